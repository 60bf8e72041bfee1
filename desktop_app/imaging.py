"""The one photo loader of the app (Pillow).

Every photo the app reads goes through `open_photo`: EXIF orientation applied, every mode turned
into 8-bit RGB (palette, alpha composited on white, CMYK, 16-bit, greyscale), HEIC/HEIF through
pillow-heif, and a decompression-bomb guard. Anything that cannot be read raises
`ImageLoadError` with a message a user can act on.

For the captioner, `load_for_model` asks the JPEG decoder for a reduced scale (`draft`) first:
decoding a 12 MP phone photo at 1/8 scale is several times cheaper than decoding it whole.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError

MAX_PIXELS = 100_000_000  # about 100 megapixels: above this a file is refused, not decoded

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif"}
)

_heif_registered: bool | None = None


def _register_heif() -> bool:
    """Teach Pillow to open HEIC/HEIF (iPhone photos); done once, on first use."""
    global _heif_registered
    if _heif_registered is None:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
            _heif_registered = True
        except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
            _heif_registered = False
    return _heif_registered


def is_image_path(path: str | os.PathLike) -> bool:
    """True for files whose name says they are photos the app can read (by suffix)."""
    p = Path(path)
    return p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def iter_image_files(paths, recursive: bool = True):
    """Yield photo files from files and folders (folders walked recursively, sorted).

    Files given by name are yielded even without an image suffix, so the loader can say why
    they cannot be read; inside folders only image suffixes are taken.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = sorted(p.rglob("*")) if recursive else sorted(p.iterdir())
            for child in walker:
                if child.is_file() and is_image_path(child):
                    yield child
        else:
            yield p


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited on white."""
    if img.mode == "RGB":
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.max() > 0 else 1.0
        img = Image.fromarray(np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, img).convert("RGB")
    return img.convert("RGB")


def open_photo(path: str | os.PathLike, draft_size: tuple[int, int] | None = None,
               data: bytes | None = None) -> Image.Image:
    """Open a photo as an upright 8-bit RGB image, or raise ImageLoadError.

    draft_size: for JPEGs, let the decoder pick the smallest scale (1/2, 1/4, 1/8) that is
    still at least this big, which is far faster for large photos.
    data: the file's bytes when the caller already read them (`path` then names it in errors).
    """
    p = Path(path)
    src = p if data is None else io.BytesIO(data)
    try:
        size = p.stat().st_size if data is None else len(data)
    except FileNotFoundError:
        raise ImageLoadError(p, "the file does not exist") from None
    except OSError as exc:
        raise ImageLoadError(p, f"the file cannot be accessed ({exc.strerror or exc})") from None
    if data is None and p.is_dir():
        raise ImageLoadError(p, "it is a folder, not a photo")
    if size == 0:
        raise ImageLoadError(p, "the file is empty (0 bytes)")
    if p.suffix.lower() in (".heic", ".heif", ".avif") and not _register_heif():
        raise ImageLoadError(p, "HEIC photos need the pillow-heif package")
    try:
        with Image.open(src) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageLoadError(
                    p, f"the image is too large ({w}x{h}, {w * h / 1e6:.0f} megapixels; "
                    f"the limit is {MAX_PIXELS // 1_000_000})"
                )
            if draft_size and img.format == "JPEG":
                # Orientation may swap width and height: ask for enough in both directions.
                side = max(draft_size)
                img.draft("RGB", (side, side))
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        _register_heif()
        try:  # the name may lie: an iPhone photo saved as .jpg
            if data is not None:
                src.seek(0)
            with Image.open(src) as img:
                img.load()
                return _to_rgb(ImageOps.exif_transpose(img))
        except Exception:
            pass
        raise ImageLoadError(p, "it is not an image Pillow can read (unknown or corrupt format)") from None
    except Image.DecompressionBombError:
        raise ImageLoadError(p, f"the image is too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc)
        if "truncated" in msg.lower() or "premature" in msg.lower():
            raise ImageLoadError(p, "the file is truncated (incomplete download or copy?)") from None
        raise ImageLoadError(p, f"the image data is corrupt ({msg or type(exc).__name__})") from None


def load_for_model(path: str | os.PathLike, size: int = 224,
                   data: bytes | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """The photo as a (size, size, 3) uint8 array, squashed like the training photos.

    Returns the array and the photo's upright size (width, height) as decoded.
    """
    img = open_photo(path, draft_size=(size, size), data=data)
    return squash(img, size), img.size


def squash(img: Image.Image, size: int) -> np.ndarray:
    """(size, size, 3) uint8: the photo squashed to a square, as the captioner learned."""
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))


def make_thumbnail(path: str | os.PathLike, max_side: int = 256) -> Image.Image:
    img = open_photo(path, draft_size=(max_side, max_side))
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


# Pillow's own limit would warn at ~89 MP and raise at 2x; ours is explicit above.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS * 2
ImageFile.LOAD_TRUNCATED_IMAGES = False
