"""Average the decoder weights of several training states into one bundle (checkpoint
averaging: often a little better than any single epoch; select on dev).

    python build_scripts/average_checkpoints.py --template BUNDLE --out OUT STATE_OR_BUNDLE...

Inputs are training states (`checkpoint/state.npz`, keys `model/...`) or bundle `decoder.npz`
files; the template bundle gives the config and vocabulary.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.captioning.bundle import read_bundle, weight_key, write_bundle  # noqa: E402


def load_decoder_weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        if any(k.startswith("model/") for k in z.files):
            return {weight_key(k[len("model/"):]): z[k].astype(np.float32) for k in z.files if k.startswith("model/")}
        return {weight_key(k): z[k].astype(np.float32) for k in z.files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("inputs", nargs="+", type=Path)
    a = ap.parse_args()
    base = read_bundle(a.template)
    states = [load_decoder_weights(p) for p in a.inputs]
    keys = set(base.weights)
    for p, s in zip(a.inputs, states, strict=True):
        if set(s) != keys:
            raise SystemExit(f"{p} does not hold the same weights as the template")
    avg = {k: np.mean([s[k] for s in states], axis=0) for k in keys}
    meta = {k: v for k, v in base.meta.items() if k not in ("format", "format_version", "decoder")}
    meta["averaged_from"] = [str(p) for p in a.inputs]
    meta["model_version"] = f"{base.model_version}-avg{len(states)}"
    card = (a.template / "MODEL_CARD.md").read_text() if (a.template / "MODEL_CARD.md").exists() else None
    if a.out.exists():
        shutil.rmtree(a.out)
    write_bundle(a.out, base.config, base.vocab, avg, meta, card)
    print(json.dumps({"out": str(a.out), "averaged": len(states)}))


if __name__ == "__main__":
    main()
