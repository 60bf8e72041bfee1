"""Caption datasets on disk: the Flickr8k layout and COCO-style (Karpathy split) JSON.

Flickr8k layout: `captions.tsv` (`image<TAB>caption`), `splits/{train,dev,test}.txt` (one image
name per line) and `images/`. COCO: `dataset_coco.json` with `images: [{filepath, filename,
split, sentences: [{raw}]}]`; its splits `train`+`restval` map to train, `val` to dev.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HashlensError


@dataclass
class CaptionDataset:
    root: Path
    images: dict[str, Path]  # image id -> file
    captions: dict[str, list[str]]  # image id -> its human captions
    splits: dict[str, list[str]] = field(default_factory=dict)  # "train"/"dev"/"test" -> ids

    def split(self, name: str) -> list[str]:
        if name not in self.splits:
            raise HashlensError(f"the dataset at {self.root} has no '{name}' split")
        return self.splits[name]


def load_dataset(path: str | Path, images_dir: str | Path | None = None) -> CaptionDataset:
    p = Path(path)
    if p.is_file() and p.suffix == ".json":
        return _load_coco(p, images_dir)
    if (p / "dataset_coco.json").is_file():
        return _load_coco(p / "dataset_coco.json", images_dir)
    if (p / "captions.tsv").is_file():
        return _load_flickr(p)
    raise HashlensError(
        f"{p} is not a caption dataset: expected captions.tsv + splits/ + images/ "
        "(Flickr8k layout) or a COCO-style dataset_coco.json"
    )


def _load_flickr(root: Path) -> CaptionDataset:
    caps: dict[str, list[str]] = defaultdict(list)
    with open(root / "captions.tsv", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            name, sep, text = line.partition("\t")
            if not sep:
                raise HashlensError(f"{root / 'captions.tsv'} line {n}: expected image<TAB>caption")
            caps[name.split("#")[0]].append(text)
    images = {name: root / "images" / name for name in caps}
    splits = {}
    for split in ("train", "dev", "test"):
        f = root / "splits" / f"{split}.txt"
        if f.is_file():
            ids = [x.strip() for x in f.read_text(encoding="utf-8").split() if x.strip()]
            splits[split] = [i for i in ids if i in caps]
    return CaptionDataset(root, images, dict(caps), splits)


def _load_coco(path: Path, images_dir: str | Path | None) -> CaptionDataset:
    data = json.loads(path.read_text(encoding="utf-8"))
    base = Path(images_dir) if images_dir else path.parent
    images, caps, splits = {}, {}, defaultdict(list)
    mapping = {"train": "train", "restval": "train", "val": "dev", "test": "test"}
    for entry in data["images"]:
        rel = Path(entry.get("filepath", "")) / entry["filename"]
        key = str(rel)
        images[key] = base / rel
        caps[key] = [s.get("raw") or " ".join(s["tokens"]) for s in entry["sentences"]]
        splits[mapping.get(entry.get("split", "train"), "train")].append(key)
    return CaptionDataset(path.parent, images, caps, dict(splits))
