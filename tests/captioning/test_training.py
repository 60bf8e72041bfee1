"""Training works end to end: a tiny model learns fixed captions for ten made-up photos,
resumes from its checkpoint, and the bundle it writes captions those photos through the
same path `hashlens tag` uses."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from desktop_app.cli import main

# MobileNet features barely tell red from green on a flat drawing; shapes they tell apart.
COLOURS = {"red": (220, 30, 30), "black": (10, 10, 10)}
SHAPES = ("ball", "box", "ring", "stripes", "triangle")
TINY = ["--embed-dim", "32", "--lstm-units", "64", "--attention-units", "32", "--dropout", "0",
        "--label-smoothing", "0", "--alpha-c", "0", "--lr", "0.01", "--lr-decay", "1.0",
        "--batch-size", "10", "--min-word-count", "1", "--max-len", "8", "--patience", "50"]


@pytest.fixture(scope="module")
def toy_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyset")
    (root / "images").mkdir()
    (root / "splits").mkdir()
    lines, names = [], []
    for colour, rgb in COLOURS.items():
        for shape in SHAPES:
            name = f"{colour}_{shape}.jpg"
            img = Image.new("RGB", (224, 224), (235, 235, 235))
            d = ImageDraw.Draw(img)
            if shape == "ball":
                d.ellipse((40, 40, 184, 184), fill=rgb)
            elif shape == "box":
                d.rectangle((30, 60, 194, 164), fill=rgb)
            elif shape == "ring":
                d.ellipse((30, 30, 194, 194), outline=rgb, width=18)
            elif shape == "stripes":
                for y in range(20, 224, 40):
                    d.rectangle((0, y, 224, y + 18), fill=rgb)
            else:
                d.polygon([(112, 20), (204, 200), (20, 200)], fill=rgb)
            img.save(root / "images" / name, quality=95)
            names.append(name)
            lines += [f"{name}\ta {colour} {shape} on a table ."] * 5
    (root / "captions.tsv").write_text("\n".join(lines) + "\n")
    for split in ("train", "dev", "test"):
        (root / "splits" / f"{split}.txt").write_text("\n".join(names) + "\n")
    return root


@pytest.mark.slow
def test_tiny_model_overfits_resumes_and_captions(toy_dataset, tmp_path, capsys):
    out = tmp_path / "bundle"
    common = ["train", "--data", str(toy_dataset), "--out", str(out), "--cache", str(tmp_path / "cache"), *TINY]
    # Stop part-way (like a killed run), then run the same command again: it resumes.
    assert main([*common, "--epochs", "20", "--max-steps", "7"]) == 0
    pos = json.loads((out / "checkpoint" / "position.json").read_text())
    assert pos["global_step"] == 7
    assert main([*common, "--epochs", "20"]) == 0
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["epoch"] == 20 and log[-1]["train_nll"] < 0.3
    assert (out / "checksums.json").exists()

    capsys.readouterr()
    photos = sorted((toy_dataset / "images").iterdir())
    assert main(["tag", "--json", "--no-library", "--model", str(out), *map(str, photos)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(photos)
    right = sum(r["caption"] == "a {} {} on a table".format(*(p.stem.split("_")))
                for r, p in zip(rows, photos, strict=True))
    assert right >= 8, [r["caption"] for r in rows]
    assert all(r["error"] is None and len(r["tokens"]) == len(r["token_probs"]) for r in rows)
    assert np.mean([min(r["token_probs"]) for r in rows]) > 0.5


@pytest.fixture(scope="module")
def dog_anywhere(tmp_path_factory):
    """Ten photos of one black blob (a "dog") in a different place each, and the detector's
    boxes around it: the caption is always the same, only attention can tell where it is."""
    root = tmp_path_factory.mktemp("dogset")
    (root / "images").mkdir()
    (root / "splits").mkdir()
    rng = np.random.default_rng(3)
    lines, names, boxes = [], [], {}
    for k in range(10):
        name = f"dog{k}.jpg"
        x0, y0 = (int(v) for v in rng.integers(0, 224 - 80, size=2))
        img = Image.new("RGB", (224, 224), (235, 235, 235))
        ImageDraw.Draw(img).ellipse((x0, y0, x0 + 80, y0 + 80), fill=(10, 10, 10))
        img.save(root / "images" / name, quality=95)
        names.append(name)
        lines += [f"{name}\ta dog on a table ."] * 5
        boxes[name] = {"dog": [[x0 / 224, y0 / 224, (x0 + 80) / 224, (y0 + 80) / 224]]}
    (root / "captions.tsv").write_text("\n".join(lines) + "\n")
    for split in ("train", "dev", "test"):
        (root / "splits" / f"{split}.txt").write_text("\n".join(names) + "\n")
    (root / "boxes.json").write_text(json.dumps({"boxes": boxes}))
    return root, boxes


@pytest.mark.slow
def test_fine_tuning_with_boxes_points_the_attention_at_the_object(dog_anywhere, tmp_path):
    root, boxes = dog_anywhere
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    common = ["train", "--data", str(root), "--cache", str(tmp_path / "cache"), *TINY]
    assert main([*common, "--out", str(base), "--epochs", "8"]) == 0
    # Fine-tuning keeps the bundle's words and sizes: the tiny-model flags are ignored.
    assert main([*common, "--out", str(tuned), "--epochs", "25", "--init", str(base),
                 "--attention-boxes", str(root / "boxes.json"), "--attention-weight", "1.0"]) == 0
    meta = json.loads((tuned / "config.json").read_text())
    assert meta["training"]["init"] == str(base) and meta["training"]["attention_weight"] == 1.0

    from desktop_app.captioning import load_captioner
    from desktop_app.imaging import load_for_model

    photos = sorted((root / "images").iterdir())
    captions = load_captioner(tuned).caption_batch(np.stack([load_for_model(p)[0] for p in photos]))
    hits = 0
    for cap, photo in zip(captions, photos, strict=True):
        assert cap.caption == "a dog on a table"
        h, w = cap.grid
        r, c = np.unravel_index(int(np.argmax(cap.attention[cap.tokens.index("dog")])), (h, w))
        x0, y0, x1, y1 = boxes[photo.name]["dog"][0]
        hits += x0 <= (c + 0.5) / w <= x1 and y0 <= (r + 0.5) / h <= y1
    assert hits >= 8, hits
