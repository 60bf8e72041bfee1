"""Photo -> caption -> hashtag candidates -> personal ranking.

The one path the CLI, the GUI and the folder watcher all call. Heavy parts load on first use:
the captioner (LiteRT, ~0.3 s) when the first photo needs a caption, the library when it is first
ranked against, so that `Pipeline(...)` itself is instant.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import HashlensError, ImageLoadError, LibraryError
from .fingerprint import bytes_hash, content_hash
from .imaging import iter_image_files, open_photo, squash
from .results import MAX_HASHTAGS, Detection, PhotoResult
from .runtime.threads import cpu_threads, numpy_threads

log = logging.getLogger(__name__)


@dataclass
class TagOptions:
    beam: int = 3
    top_k: int = MAX_HASHTAGS  # per Instagram post
    style: str = "joined"  # "joined" (#teddybear) or "underscored" (#teddy_bear)
    batch_size: int = 16


@dataclass
class Progress:
    done: int
    total: int
    failed: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass
class _Loaded:
    path: Path
    pixels: list | None  # the captioner's square, then (square, fill) for each detector
    size: tuple[int, int]
    digest: str
    mtime: float
    file_size: int
    error: str | None


def load_tagging() -> None:
    """Load what the hashtag code needs on its first photo (the POS tagger, the word
    frequencies, the tag detector: ~0.5 s, once; each is cached where it is defined).
    Best-effort: the photo's own tagging reports what cannot be loaded."""
    try:
        from .tagging.detector import default_detector
        from .tagging.popularity import zipf
        from .tagging.postag import load_tagger

        load_tagger()
        zipf("photo")
        default_detector()
    except Exception:  # noqa: BLE001
        log.debug("loading the hashtag code ahead failed", exc_info=True)


_tagging_loader: threading.Thread | None = None


def _load_tagging_once_in_background() -> None:
    """Start load_tagging on a thread, once a process (it overlaps the model's loading)."""
    global _tagging_loader
    if _tagging_loader is None:
        _tagging_loader = threading.Thread(target=load_tagging, name="load-tagging", daemon=True)
        _tagging_loader.start()


def decode_workers() -> int:
    """Threads that decode photos: the usable cores (at least 2, so decoding overlaps)."""
    return max(2, min(8, cpu_threads()))


def photo_inputs(path: str | os.PathLike, size: int, detector_sizes: tuple[int, ...] = (),
                 data: bytes | None = None) -> tuple[list, tuple[int, int]]:
    """One decode of a photo for every model: the captioner's square (squashed), then each
    detector's (square, fill) framed by detection.frame_photo; and the photo's size."""
    img = open_photo(path, draft_size=(max((size, *detector_sizes)),) * 2, data=data)
    pixels: list = [squash(img, size)]
    if detector_sizes:
        from .detection.framing import frame_photo

        pixels += [frame_photo(img, s) for s in detector_sizes]
    return pixels, img.size


def _load(path: Path, sizes: tuple[int, ...]) -> _Loaded:
    try:
        data = path.read_bytes() if path.is_file() else None  # one read, decoded and hashed
        pixels, size = photo_inputs(path, sizes[0], sizes[1:], data=data)  # clear errors for the rest
        st = path.stat()
        digest = bytes_hash(data) if data is not None else content_hash(path)
        return _Loaded(path, pixels, size, digest, st.st_mtime, st.st_size, None)
    except ImageLoadError as exc:
        return _Loaded(path, None, (0, 0), "", 0.0, 0, str(exc))
    except OSError as exc:  # vanished between listing and reading, permissions, ...
        return _Loaded(path, None, (0, 0), "", 0.0, 0, f"cannot read {path}: {exc.strerror or exc}")


# Photos a detector runs on at once: as fast a photo as 16 at once (8.7 vs 8.2 ms for objects),
# and LiteRT's working memory for them is 120 MB instead of 266 MB.
DETECT_BATCH = 4


def detect_photos(detectors: list, inputs: list[list]) -> list[list[Detection]]:
    """Each photo's detections. inputs: per photo, one (square, fill) per detector. A face
    detector (`finds == "faces"`, after the object detector) runs only on photos with a
    person, and only faces on a person are kept (it finds cats' and dogs' faces too)."""
    from .detection import faces_on_people
    from .scene.classes import PERSON

    found: list[list[Detection]] = [[] for _ in inputs]
    if not inputs:
        return found
    for k, det in enumerate(detectors):
        todo = range(len(inputs))
        if getattr(det, "finds", "objects") == "faces":  # only where there is someone
            todo = [i for i in todo if any(d.label == PERSON for d in found[i])]
            if not todo:
                continue
        todo = list(todo)
        for lo in range(0, len(todo), DETECT_BATCH):
            part = todo[lo : lo + DETECT_BATCH]
            squares = np.stack([inputs[i][k][0] for i in part])
            for i, dets in zip(part, det.detect_batch(squares, [inputs[i][k][1] for i in part]), strict=True):
                found[i] += dets
    return [faces_on_people(f) for f in found]


class Pipeline:
    """Tags photos. Pass `captioner`/`library` to swap in fakes (tests) or shared instances."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        library_dir: str | os.PathLike | None = None,
        options: TagOptions | None = None,
        captioner=None,
        library=None,
        use_library: bool = True,
        detectors=None,
    ):
        """detectors: None for the shipped object and face detectors, False for none (the
        caption and the classifier alone), or a list of objects with `input_size` and
        `detect_batch(images) -> [[Detection, ...], ...]` (tests)."""
        self.model_path = model
        self.library_dir = library_dir
        self.options = options or TagOptions()
        self._captioner = captioner
        self._library = library
        self.use_library = use_library
        self.library_warning: str | None = None
        self._detectors = detectors
        self.detector_warning: str | None = None

    # -- lazily loaded parts -------------------------------------------------------------
    @property
    def captioner(self):
        if self._captioner is None:
            from .captioning import load_captioner

            self._captioner = load_captioner(self.model_path)
        return self._captioner

    @property
    def detectors(self) -> list:
        """The object and face detectors ([] when turned off or they cannot be loaded: photos
        are then tagged from the caption and the classifier, and the warning says why)."""
        if self._detectors is None:
            try:
                from .detection import load_face_detector, load_object_detector

                self._detectors = [load_object_detector(), load_face_detector()]
            except (HashlensError, ImportError) as exc:
                self._detectors = []
                self.detector_warning = str(exc)
                log.warning("detectors unavailable, tags come from the caption alone: %s", exc)
        return list(self._detectors or [])

    @property
    def library(self):
        """The TagLibrary, or None when it is turned off or cannot be opened (warning kept)."""
        if self._library is None and self.use_library and self.library_warning is None:
            from .library.store import TagLibrary
            from .paths import data_dir

            try:
                self._library = TagLibrary.open(data_dir(self.library_dir))
            except LibraryError as exc:
                self.library_warning = str(exc)
                log.warning("tag library unavailable, suggestions are not personalised: %s", exc)
        return self._library

    def warm_up(self) -> None:
        """Load the model and run it once on a blank photo, and load the hashtag code, so that
        the first real photo is as quick as the later ones (LiteRT's first run and the hashtag
        code otherwise cost ~1 s on that photo). Errors loading the model are raised."""
        cap = self.captioner
        size = int(getattr(cap, "input_size", 224))
        cap.caption_batch(np.zeros((1, size, size, 3), np.uint8), beam=1)
        for det in self.detectors:
            det.detect_batch(np.zeros((1, det.input_size, det.input_size, 3), np.uint8))
        load_tagging()

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None

    # -- tagging -------------------------------------------------------------------------
    def tag_photo(self, path: str | os.PathLike) -> PhotoResult:
        return next(iter(self.tag_paths([path])))

    def tag_paths(
        self,
        paths: Iterable[str | os.PathLike],
        on_progress: Callable[[Progress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Iterator[PhotoResult]:
        """Tag photos and folders (recursive); yields one PhotoResult per photo, in order.

        Decoding the next batch overlaps with captioning the current one. A photo that cannot
        be read yields a result with `error` set and the run goes on.
        """
        import time

        files = list(iter_image_files(paths))
        if not files:
            return  # (an empty folder: no reason to load the model)
        total, done, failed = len(files), 0, 0
        start = time.perf_counter()
        bs = max(1, self.options.batch_size)
        batches = [files[i : i + bs] for i in range(0, total, bs)]
        _load_tagging_once_in_background()  # while the model loads
        sizes = (self._input_size(), *(d.input_size for d in self.detectors))
        # Photos are decoded one per task on all cores (Pillow lets go of the GIL while it
        # decodes), the next batch while the model captions this one: a 12 MP JPEG costs more
        # to decode than the encoder costs to run.
        pool = ThreadPoolExecutor(max_workers=decode_workers(), thread_name_prefix="decode")
        try:
            pending = [pool.submit(_load, p, sizes) for p in batches[0]]
            for i in range(len(batches)):
                if should_cancel and should_cancel():
                    return
                loaded = [f.result() for f in pending]
                decoding = i + 1 < len(batches)
                if decoding:
                    pending = [pool.submit(_load, p, sizes) for p in batches[i + 1]]
                # NumPy gets the other cores only when no photo is being decoded on them.
                with numpy_threads(1 if decoding else cpu_threads()):
                    results = self._tag_loaded(loaded)
                for result in results:
                    done += 1
                    failed += 0 if result.ok else 1
                    yield result
                if on_progress:
                    on_progress(Progress(done, total, failed, time.perf_counter() - start))
        finally:  # cancelled or closed early: photos not yet started are not decoded
            pool.shutdown(wait=False, cancel_futures=True)

    def _input_size(self) -> int:
        return int(getattr(self.captioner, "input_size", 224))

    def _describe(self, good: list[_Loaded]) -> dict[Path, tuple]:
        """Detections, then captions grounded in them: path -> (CaptionResult, detections)."""
        from .scene.grounding import grounded_captions

        found = detect_photos(self.detectors, [x.pixels[1:] for x in good])
        batch = np.stack([x.pixels[0] for x in good])
        cap = self.captioner

        def caption(bias):
            if bias is None:  # (fakes in tests take no bias)
                return cap.caption_batch(batch, beam=self.options.beam)
            return cap.caption_batch(batch, beam=self.options.beam, word_bias=bias)

        described = grounded_captions(caption, getattr(cap, "vocab", None), found)
        return {x.path: d for x, d in zip(good, described, strict=True)}

    def _tag_loaded(self, loaded: list[_Loaded]) -> list[PhotoResult]:
        good = [x for x in loaded if x.error is None]
        described = self._describe(good) if good else {}
        out = []
        for x in loaded:
            if x.error is not None:
                out.append(PhotoResult(path=str(x.path), error=x.error))
                continue
            caption, detections = described[x.path]
            res = PhotoResult(path=str(x.path), caption=caption, content_hash=x.digest, size=x.size,
                              detections=detections)
            candidates = self.candidates(res)
            res.hashtags = self.rank(res, candidates)
            self._remember(res, x, candidates)
            out.append(res)
        return out

    def candidates(self, result: PhotoResult) -> list:
        """The model's hashtag candidates for a captioned photo (not personalised), with popular
        variants and related trending tags added (bounded) and each one's popularity figure."""
        from .scene.evidence import SceneEvidence
        from .tagging import suggest_hashtags
        from .tagging.extend import extend_for_photo, trends_folder

        evidence = SceneEvidence.build(result.detections, result.caption.imagenet) if self.detectors else None
        found = suggest_hashtags(result.caption, style=self.options.style, limit=self.options.top_k * 2,
                                 evidence=evidence)
        lib = self.library
        from .library.store import history_for

        return extend_for_photo(found, result, history_for(lib, result.content_hash),
                                trends_folder(lib, self.library_dir))

    def rank(self, result: PhotoResult, candidates: list, chosen: tuple[str, ...] = ()) -> list:
        """Candidates ranked by the library when there is one (else the model's order)."""
        lib = self.library
        if lib is None:
            return candidates[: self.options.top_k]
        ranked = lib.rank(candidates, result.caption.embedding, content_hash=result.content_hash or None,
                          chosen=chosen, limit=self.options.top_k)
        # The library writes its own score parts; keep the popularity figure for the UI/JSON.
        popularity = {c.tag: c.parts["popularity"] for c in candidates if "popularity" in c.parts}
        for s in ranked:
            if s.tag in popularity and "popularity" not in s.parts:
                s.parts["popularity"] = popularity[s.tag]
        return ranked

    def suggest(self, result: PhotoResult, chosen: tuple[str, ...] = ()) -> list:
        """Hashtags for a captioned photo, e.g. again after the user edited the caption."""
        return self.rank(result, self.candidates(result), chosen)

    def _remember(self, res: PhotoResult, x: _Loaded, candidates: list) -> None:
        lib = self.library
        if lib is None:
            return
        try:
            lib.record_result(res, mtime=x.mtime, file_size=x.file_size,
                              model_version=res.caption.model_version, candidates=candidates)
        except LibraryError as exc:
            self.library_warning = str(exc)
            log.warning("could not record %s in the library: %s", res.path, exc)

    # -- decisions -----------------------------------------------------------------------
    def feedback(self, path: str | os.PathLike, approve=(), reject=(), add=(), remove=()) -> dict[str, str]:
        """Record the user's decisions on a photo's tags; returns the photo's decisions now.

        The photo is found by content, so it works after a move or rename.
        """
        try:
            digest = content_hash(path)
        except OSError as exc:
            raise HashlensError(f"cannot read {path}: {exc.strerror or exc}") from None
        return self.decide(digest, path=str(Path(path).resolve()), approve=approve, reject=reject,
                           add=add, remove=remove)

    def decide(self, content_hash: str, path: str | None = None, approve=(), reject=(), add=(),
               remove=()) -> dict[str, str]:
        """The one way decisions enter the library (CLI feedback, the window, the watcher):
        tags are normalised in this pipeline's style; returns the photo's decisions now."""
        from .tagging import normalize_tag

        lib = self.library
        if lib is None:
            raise LibraryError(self.library_warning or "the tag library is turned off")

        def norm(tags):
            out = []
            for t in tags:
                n = normalize_tag(t, style=self.options.style)
                if n is None:
                    raise HashlensError(f"{t!r} is not a valid hashtag (letters, digits and _ only)")
                out.append(n)
            return out

        try:
            lib.record_decisions(content_hash, approve=norm(approve), reject=norm(reject), add=norm(add),
                                 remove=norm(remove), path=path)
        except ValueError as exc:  # the same tag both approved and rejected, say
            raise HashlensError(str(exc)) from None
        return lib.decisions_for(content_hash)
