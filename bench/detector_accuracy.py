"""How right the object and face detectors are, and how fast, on real photos.

    python -m bench.detector_accuracy                     # the shipped detectors, ~1 min on 2 cores
    python -m bench.detector_accuracy --flickr 0 --sweep  # + a threshold sweep, no Flickr8k
    python -m bench.detector_accuracy --objects X.tflite --framing squash   # a variant

On ../shared/datasets/coco-sample (COCO 2017 train photos with their ground-truth boxes):
- boxes: per class and overall, recall and precision at IoU 0.5 at the shipped thresholds
  (a detection on a COCO "crowd" region counts neither way);
- "class present" per photo, what hashtags need: image-level precision and recall per class
  and overall (micro);
- faces: of the photos with a person whose box is at least --person-area of the photo, how many
  get a face; how many faces lie inside a person's box (a proxy for face precision: COCO has no
  face boxes); all faces, then only those on a detected person (`faces_on_people`).
Caution: the object detector was trained on COCO's train split, which these photos come from,
so these figures flatter it.

On --flickr N Flickr8k dev photos (never test), photos unlike COCO's: which classes fire, and
on how many of those photos a human caption names the class (a rough check for false alarms).

Speed: ms a photo, batched (--batch), LiteRT on the process's cores, objects and faces apart
and together (median of --repeats passes; photos already decoded and squashed).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.detection import FaceDetector, ObjectDetector, faces_on_people
from desktop_app.detection.framing import MAX_ASPECT, frame_photo
from desktop_app.detection.labels import COCO_LABELS
from desktop_app.detection.nms import iou_one_to_many
from desktop_app.results import Detection
from desktop_app.runtime.litert import LiteModel
from desktop_app.runtime.registry import verified_path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
IOU = 0.5
SWEEP = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)

# Words in a Flickr8k caption that name a class (besides the class's own words and plural).
CAPTION_WORDS = {
    "person": "man men woman women boy boys girl girls child children kid kids people person "
              "baby player players guy lady toddler crowd skier surfer biker rider climber",
    "dog": "dog dogs puppy", "bicycle": "bike bikes bicycle cyclist biker", "car": "car cars",
    "motorcycle": "motorcycle motorbike dirt", "sports ball": "ball soccer football basketball",
    "surfboard": "surfboard surfer surfing surfs", "skis": "ski skis skier skiing",
    "snowboard": "snowboard snowboarder snowboarding", "skateboard": "skateboard skateboarder",
    "kite": "kite kites", "frisbee": "frisbee", "horse": "horse horses", "boat": "boat boats",
    "bench": "bench", "backpack": "backpack", "umbrella": "umbrella", "chair": "chair chairs",
    "cell phone": "phone cellphone", "tennis racket": "tennis racket", "bird": "bird birds",
}


def read_sample(folder: Path) -> tuple[list[str], dict[str, list[tuple[str, np.ndarray, bool]]]]:
    """The photos and, per photo, its ground-truth boxes (label, x0 y0 x1 y1 px, crowd)."""
    gt: dict[str, list] = defaultdict(list)
    lines = (folder / "boxes.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        f, cat, x, y, w, h, crowd = line.split("\t")
        x, y, w, h = map(float, (x, y, w, h))
        gt[f].append((cat, np.array([x, y, x + w, y + h]), crowd == "1"))
    files = sorted(p.name for p in (folder / "images").glob("*.jpg") if p.name in gt)
    return files, gt


FRAMINGS = {"4:3": MAX_ASPECT, "squash": float("inf"), "letterbox": 1.0}


def run_detector(det, images: list[Image.Image], framing: str, min_score: float,
                 batch: int = 16) -> list[list[Detection]]:
    """Detections per photo, boxes as fractions of the photo. framing: "4:3" (the app's:
    padded to at most 4:3, then squashed), "squash" or "letterbox" (padded to a square)."""
    out: list[list[Detection]] = []
    for i in range(0, len(images), batch):
        framed = [frame_photo(im, det.input_size, FRAMINGS[framing]) for im in images[i:i + batch]]
        out += det.detect_batch(np.stack([f[0] for f in framed]), [f[1] for f in framed],
                                min_score=min_score)
    return out


def match_boxes(dets: list[Detection], truth: list, wh: tuple[int, int]) -> list[bool | None]:
    """For each detection (best first): True (matches an unmatched box of its class at IoU 0.5),
    None (matches only a crowd region), False (a false alarm)."""
    w, h = wh
    scale = np.array([w, h, w, h], np.float64)
    used: set[int] = set()
    verdicts: list[bool | None] = []
    for d in sorted(dets, key=lambda d: -d.score):
        box = np.array(d.box) * scale
        cands = [(j, t) for j, t in enumerate(truth) if t[0] == d.label]
        best, best_iou, crowd_hit = None, IOU, False
        for j, (_, tb, crowd) in cands:
            iou = float(iou_one_to_many(box, tb[None])[0])
            if crowd:
                crowd_hit |= iou >= IOU
            elif j not in used and iou >= best_iou:
                best, best_iou = j, iou
        if best is not None:
            used.add(best)
            verdicts.append(True)
        else:
            verdicts.append(None if crowd_hit else False)
    return verdicts


def keep(dets: list[Detection], thresholds: dict[str, float] | float) -> list[Detection]:
    if isinstance(thresholds, float):
        return [d for d in dets if d.score >= thresholds]
    return [d for d in dets if d.score >= thresholds[d.label]]


def box_scores(files, gt, sizes, found, thresholds) -> dict[str, list[int]]:
    """Per class [true positives, detections counted, ground-truth boxes] at IoU 0.5."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for f, dets in zip(files, found, strict=True):
        kept = keep(dets, thresholds)
        for d, v in zip(sorted(kept, key=lambda d: -d.score), match_boxes(kept, gt[f], sizes[f]),
                        strict=True):
            if v is not None:
                tally[d.label][0] += int(v)
                tally[d.label][1] += 1
        for label, _, crowd in gt[f]:
            if not crowd:
                tally[label][2] += 1
    return tally


def image_scores(files, gt, found, thresholds) -> dict[str, list[int]]:
    """Per class [photos where found and present, photos where found, photos where present]."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for f, dets in zip(files, found, strict=True):
        said = {d.label for d in keep(dets, thresholds)}
        there = {t[0] for t in gt[f]}
        for c in said | there:
            tally[c][0] += int(c in said and c in there)
            tally[c][1] += int(c in said)
            tally[c][2] += int(c in there)
    return tally


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def micro(tally: dict[str, list[int]]) -> tuple[float, float]:
    tp = sum(t[0] for t in tally.values())
    said = sum(t[1] for t in tally.values())
    there = sum(t[2] for t in tally.values())
    return tp / max(said, 1), tp / max(there, 1)


def print_objects(files, gt, sizes, found, thresholds) -> None:
    boxes = box_scores(files, gt, sizes, found, thresholds)
    images = image_scores(files, gt, found, thresholds)
    print(f"{'class':<15} {'box P':>6} {'box R':>6} {'(TP/det/GT)':>13}   {'img P':>6} {'img R':>6} "
          f"{'(TP/said/there)':>15}")
    for c in sorted(set(boxes) | set(images), key=lambda c: -images[c][2]):
        b, i = boxes[c], images[c]
        print(f"{c:<15} {_ratio(b[0], b[1]):>6} {_ratio(b[0], b[2]):>6} {'/'.join(map(str, b)):>13}   "
              f"{_ratio(i[0], i[1]):>6} {_ratio(i[0], i[2]):>6} {'/'.join(map(str, i)):>15}")
    bp, br = micro(boxes)
    ip, ir = micro(images)
    print(f"{'ALL (micro)':<15} {bp:6.3f} {br:6.3f} {'':>13}   {ip:6.3f} {ir:6.3f}")
    wrong = Counter()
    for f, dets in zip(files, found, strict=True):
        there = {t[0] for t in gt[f]}
        wrong.update({d.label for d in keep(dets, thresholds)} - there)
    print("classes said but absent (photos):", ", ".join(f"{c} {n}" for c, n in wrong.most_common()))


def print_sweep(files, gt, sizes, found) -> None:
    """Overall figures at one threshold for all classes, and each class's image-level
    precision / recall by threshold (to choose the per-class thresholds)."""
    print("\none threshold for every class:   box P  box R   img P  img R")
    for t in SWEEP:
        bp, br = micro(box_scores(files, gt, sizes, found, t))
        ip, ir = micro(image_scores(files, gt, found, t))
        print(f"  {t:.2f}{'':>26}{bp:6.3f} {br:6.3f}  {ip:6.3f} {ir:6.3f}")
    print("\nper class, image level 'said/right' at thresholds " + " ".join(f"{t:.2f}" for t in SWEEP))
    per_t = [image_scores(files, gt, found, t) for t in SWEEP]
    for c in COCO_LABELS:
        cells = [f"{s[c][1]}/{s[c][0]}" for s in per_t]
        if per_t[0][c][1] or per_t[0][c][2]:
            print(f"  {c:<15} there {per_t[0][c][2]:>3}: " + " ".join(f"{x:>6}" for x in cells))


def print_faces(files, gt, sizes, faces, person_area: float, what: str) -> None:
    with_people = got = inside = total = 0
    for f, dets in zip(files, faces, strict=True):
        w, h = sizes[f]
        people = [b for c, b, crowd in gt[f] if c == "person"]
        big = [b for b in people if (b[2] - b[0]) * (b[3] - b[1]) >= person_area * w * h]
        if big:
            with_people += 1
            got += bool(dets)
        for d in dets:
            total += 1
            cx, cy = (d.box[0] + d.box[2]) / 2 * w, (d.box[1] + d.box[3]) / 2 * h
            inside += any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in people)
    no_people = sum(1 for f in files if not any(c == "person" for c, _, _ in gt[f]))
    false_photos = sum(1 for f, d in zip(files, faces, strict=True)
                       if d and not any(c == "person" for c, _, _ in gt[f]))
    print(f"{what}: {got}/{with_people} photos with a person of >= {person_area:.0%} of the photo "
          f"get a face; {inside}/{total} faces lie inside a person's box; "
          f"{false_photos}/{no_people} photos without any person get a face")


def print_flickr(det, framing: str, count: int, thresholds) -> None:
    folder = SHARED / "flickr8k"
    names = (folder / "splits" / "dev.txt").read_text().split()[:count]
    captions: dict[str, str] = defaultdict(str)
    for line in (folder / "captions.tsv").read_text(encoding="utf-8").splitlines():
        name, _, text = line.partition("\t")
        captions[name] += " " + text.lower()
    images = [Image.open(folder / "images" / n).convert("RGB") for n in names]
    found = run_detector(det, images, framing, min_score=0.2)
    fired: dict[str, list[str]] = defaultdict(list)
    for n, dets in zip(names, found, strict=True):
        for c in {d.label for d in keep(dets, thresholds)}:
            fired[c].append(n)
    print(f"\nFlickr8k dev, {len(names)} photos: class: photos it fires on (of them, "
          "photos whose captions name it), examples of the others")
    for c, ns in sorted(fired.items(), key=lambda kv: -len(kv[1])):
        words = set(CAPTION_WORDS.get(c, c).split()) | {c.split()[-1]}
        named = [n for n in ns if any(re.search(rf"\b{w}s?\b", captions[n]) for w in words)]
        others = [n for n in ns if n not in named][:3]
        print(f"  {c:<15} {len(ns):>3} ({len(named)} named)  {' '.join(others)}")


def timing(obj: ObjectDetector, faces: FaceDetector, images: list[Image.Image], batch: int,
           repeats: int) -> None:
    xo = np.stack([frame_photo(im, obj.input_size)[0] for im in images[:batch]])
    xf = np.stack([frame_photo(im, faces.input_size)[0] for im in images[:batch]])
    runs = {"objects": [], "faces": [], "together": []}
    obj.detect_batch(xo)
    faces.detect_batch(xf)
    for _ in range(repeats):
        for name, fn in (("objects", lambda: obj.detect_batch(xo)),
                         ("faces", lambda: faces.detect_batch(xf)),
                         ("together", lambda: (obj.detect_batch(xo), faces.detect_batch(xf)))):
            t = time.perf_counter()
            fn()
            runs[name].append((time.perf_counter() - t) * 1000 / len(xo))
    print(f"\nspeed, batches of {len(xo)}, LiteRT {obj.model.num_threads} threads, objects at "
          f"{obj.input_size} px, faces at {faces.input_size} px (median of {repeats}; ms a photo): "
          + ", ".join(f"{k} {statistics.median(v):.1f} (min {min(v):.1f})" for k, v in runs.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=Path, help="an objects .tflite (default: the shipped one)")
    ap.add_argument("--faces", type=Path, help="a faces .tflite (default: the shipped one)")
    ap.add_argument("--framing", choices=tuple(FRAMINGS), default="4:3",
                    help="how photos are put on the square input (default: the app's)")
    ap.add_argument("--sweep", action="store_true", help="print figures by threshold")
    ap.add_argument("--flickr", type=int, default=200, help="Flickr8k dev photos (0: none)")
    ap.add_argument("--person-area", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args(argv)
    obj = ObjectDetector(LiteModel(a.objects or verified_path("objects")))
    faces = FaceDetector(LiteModel(a.faces or verified_path("faces")))
    mode = a.framing
    thresholds = dict(zip(COCO_LABELS, map(float, obj.thresholds), strict=True))
    folder = SHARED / "coco-sample"
    files, gt = read_sample(folder)
    images = [Image.open(folder / "images" / f).convert("RGB") for f in files]
    sizes = {f: im.size for f, im in zip(files, images, strict=True)}
    print(f"COCO sample: {len(files)} photos, objects at {obj.input_size} px (framing {mode}), "
          f"faces at {faces.input_size} px")
    found = run_detector(obj, images, mode, min_score=min(SWEEP[0], float(obj.thresholds.min())))
    print_objects(files, gt, sizes, found, thresholds)
    if a.sweep:
        print_sweep(files, gt, sizes, found)
    found_faces = run_detector(faces, images, mode, faces.threshold)
    print_faces(files, gt, sizes, found_faces, a.person_area, "all faces")
    on_people = [[d for d in faces_on_people(keep(o, thresholds) + f) if d.kind == "face"]
                 for o, f in zip(found, found_faces, strict=True)]
    print_faces(files, gt, sizes, on_people, a.person_area, "faces on a detected person")
    if a.flickr:
        print_flickr(obj, mode, a.flickr, thresholds)
    timing(obj, faces, images, a.batch, a.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
