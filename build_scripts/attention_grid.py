"""Render captions with their per-word attention maps into one image (for the model card).

    python build_scripts/attention_grid.py --photos A.jpg B.png ... --out grid.jpg [--model BUNDLE]
    python build_scripts/attention_grid.py --data ../shared/datasets/flickr8k --split test \
        --n 10 --out runs/attention_grid_flickr8k.jpg   # dataset photos: keep out of the repo

Each row: the photo, then the photo as the model saw it for each word of the caption (light
where it looked, dark elsewhere), the word and its probability beneath.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.captioning import load_captioner  # noqa: E402
from desktop_app.captioning.datasets import load_dataset  # noqa: E402
from desktop_app.imaging import load_for_model, open_photo  # noqa: E402
from desktop_app.ui.overlay import attention_overlay  # noqa: E402

CELL, LABEL, MAX_WORDS = 120, 18, 10


def _font(size: int):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def render(captioner, photos: list[Path], beam: int = 3) -> Image.Image:
    batch = np.stack([load_for_model(p)[0] for p in photos])
    results = captioner.caption_batch(batch, beam=beam)
    font = _font(12)
    sheet = Image.new("RGB", ((MAX_WORDS + 1) * CELL, len(photos) * (CELL + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (path, res) in enumerate(zip(photos, results, strict=True)):
        y = row * (CELL + LABEL)
        photo = open_photo(path).resize((CELL, CELL))
        sheet.paste(photo, (0, y))
        draw.text((2, y + CELL + 2), path.name[:18], fill="gray", font=font)
        for j, word in enumerate(res.tokens[:MAX_WORDS]):
            sheet.paste(attention_overlay(photo, res.attention_map(j)), ((j + 1) * CELL, y))
            draw.text(((j + 1) * CELL + 3, y + CELL + 2), f"{word} {res.token_probs[j]:.2f}",
                      fill="black", font=font)
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a Flickr8k-layout dataset (its photos stay out of the repo)")
    ap.add_argument("--photos", nargs="*", default=[], help="photo files instead of --data")
    ap.add_argument("--split", default="test")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--model")
    ap.add_argument("--beam", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.photos:
        paths = [Path(p) for p in a.photos][: a.n]
    elif a.data:
        ds = load_dataset(a.data)
        paths = [ds.images[i] for i in ds.split(a.split)[: a.n]]
    else:
        ap.error("give --data or --photos")
    sheet = render(load_captioner(a.model), paths, a.beam)
    sheet.save(a.out, quality=85)
    print(f"wrote {a.out} ({sheet.size[0]}x{sheet.size[1]})")


if __name__ == "__main__":
    main()
