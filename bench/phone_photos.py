"""12 MP phone-size test photos, made from the COCO sample photos (none are shipped).

    python -m bench.phone_photos [--n 32] [--out DIR]

Each COCO photo is centre-cropped to 4:3, upscaled to 4000x3000 with Pillow's bicubic filter,
given mild Gaussian noise (sigma 5.5 per channel, fixed seed per photo) so that it compresses
like a real phone photo, and saved as JPEG quality 90 (4:2:0): about 2.3-2.9 MB each.
(sigma 4 gives 1.9-2.3 MB, too small a file for a phone photo; 5.5 lands in 2.5-3 MB.)
The photos go to a cache folder outside git (.cache/bench/, gitignored) and are made once;
later calls reuse them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COCO = ROOT / ".." / "shared" / "datasets" / "coco-sample" / "images"
SIZE = (4000, 3000)
SIGMA = 5.5
QUALITY = 90
VERSION = "v1"  # bump when the recipe changes, so that stale photos are not reused
DEFAULT_OUT = ROOT / ".cache" / "bench" / f"phone-12mp-{VERSION}"


def _make(src: Path, dst: Path, seed: int) -> None:
    import numpy as np
    from PIL import Image

    from desktop_app.imaging import open_photo

    im = open_photo(src)  # upright RGB, as the app reads it
    w, h = im.size
    cw, ch = (w, round(w * 3 / 4)) if w * 3 <= h * 4 else (round(h * 4 / 3), h)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    big = im.resize(SIZE, Image.Resampling.BICUBIC, box=box)
    a = np.asarray(big, dtype=np.float32)
    a += np.random.default_rng(seed).standard_normal(a.shape, dtype=np.float32) * SIGMA
    out = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
    tmp = dst.with_suffix(".tmp")
    out.save(tmp, "JPEG", quality=QUALITY, subsampling="4:2:0")
    tmp.replace(dst)


def phone_photos(n: int = 32, out: Path = DEFAULT_OUT, quiet: bool = False) -> list[Path]:
    """n 12 MP JPEGs (made on first use), sorted by name."""
    sources = sorted(COCO.glob("*.jpg"))[:n]
    if len(sources) < n:
        raise SystemExit(f"need {n} COCO sample photos in {COCO}, found {len(sources)}")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, src in enumerate(sources):
        dst = out / f"phone_{i:03d}_{src.stem}.jpg"
        if not dst.exists():
            if not quiet:
                print(f"making {dst.name} ({i + 1}/{n})", file=sys.stderr)
            _make(src, dst, seed=1000 + i)
        paths.append(dst)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args()
    paths = phone_photos(a.n, a.out)
    mb = [p.stat().st_size / 1e6 for p in paths]
    print(f"{len(paths)} photos in {a.out}: {min(mb):.2f}-{max(mb):.2f} MB, mean {sum(mb) / len(mb):.2f} MB")


if __name__ == "__main__":
    main()
