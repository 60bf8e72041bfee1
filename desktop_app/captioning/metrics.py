"""Caption scores with the standard COCO caption evaluation code (pycocoevalcap).

Captions are compared as lowercase letter tokens (the same normalisation as training), so the
Java PTB tokenizer is not needed; METEOR is added when Java is installed.
"""

from __future__ import annotations

import logging
import shutil

from ..errors import HashlensError
from .vocabulary import tokenize

log = logging.getLogger(__name__)


def score_captions(refs: dict[str, list[str]], hyps: dict[str, str], meteor: bool = False) -> dict[str, float]:
    """BLEU-1..4, ROUGE-L and CIDEr (x100) of hyps against refs (same keys)."""
    try:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
    except ImportError:
        raise HashlensError("caption scores need the COCO caption metrics, which come with the "
                            "training extra: pip install 'hashlens[train]'") from None

    keys = sorted(hyps)
    gts = {k: [" ".join(tokenize(r)) for r in refs[k]] for k in keys}
    res = {k: [" ".join(tokenize(hyps[k])) or "empty"] for k in keys}
    out: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for i, b in enumerate(bleu, 1):
        out[f"BLEU-{i}"] = 100 * float(b)
    out["ROUGE-L"] = 100 * float(Rouge().compute_score(gts, res)[0])
    out["CIDEr"] = 100 * float(Cider().compute_score(gts, res)[0])
    if meteor and shutil.which("java"):
        try:
            from pycocoevalcap.meteor.meteor import Meteor

            out["METEOR"] = 100 * float(Meteor().compute_score(gts, res)[0])
        except Exception as exc:  # Java present but METEOR failed: report without it
            log.warning("METEOR skipped: %s", exc)
    return out
