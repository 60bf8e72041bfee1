"""The one photo loader: every kind of photo becomes upright RGB, bad files give one clear error."""

import io

import numpy as np
import pytest
from PIL import Image

from desktop_app.errors import ImageLoadError
from desktop_app.imaging import iter_image_files, load_for_model, open_photo


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = _save(img, tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = open_photo(p)
    assert out.size == (20, 40)
    top = np.asarray(out)[2, 10]
    assert top[2] > 200 and top[0] < 60  # the blue half is now on top


@pytest.mark.parametrize("mode", ["P", "L", "CMYK", "I;16", "LA", "1"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    base = Image.new("RGB", (16, 16), (200, 100, 50))
    if mode == "I;16":
        img = Image.fromarray(np.full((16, 16), 40000, dtype=np.uint16))
        p = _save(img, tmp_path / "deep.png")
    else:
        img = base.convert(mode)
        p = _save(img, tmp_path / f"m{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}")
    out = open_photo(p)
    assert out.mode == "RGB" and out.size == (16, 16)


def test_sixteen_bit_keeps_its_brightness(tmp_path):
    img = Image.fromarray(np.full((8, 8), 65535 // 2, dtype=np.uint16))
    p = _save(img, tmp_path / "half.png")
    assert abs(int(np.asarray(open_photo(p))[0, 0, 0]) - 128) <= 2


def test_transparency_is_composited_on_white(tmp_path):
    img = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    out = np.asarray(open_photo(_save(img, tmp_path / "alpha.png")))
    assert tuple(out[4, 4]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (255, 0, 0)
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p = _save(pal, tmp_path / "pal.png", transparency=0)
    assert tuple(np.asarray(open_photo(p))[1, 1]) == (255, 255, 255)


def test_heic_photo_opens(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    p = tmp_path / "iphone.heic"
    try:
        Image.new("RGB", (32, 24), (10, 200, 10)).save(p, format="HEIF")
    except Exception as exc:  # pragma: no cover - wheels without an encoder
        pytest.skip(f"this pillow-heif cannot write HEIC: {exc}")
    out = open_photo(p)
    assert out.size == (32, 24) and np.asarray(out)[5, 5, 1] > 150


def test_unicode_and_spaces_in_paths(tmp_path):
    folder = tmp_path / "Фото 2024 ☀"
    folder.mkdir()
    p = _save(Image.new("RGB", (10, 10), (1, 2, 3)), folder / "café au lait.jpg")
    assert open_photo(p).size == (10, 10)
    assert list(iter_image_files([tmp_path])) == [p]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is not a photo at all" * 10, "not an image"),
        (None, "truncated"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.jpg"
    if content is None:
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
        content = buf.getvalue()[: len(buf.getvalue()) // 2]
    p.write_bytes(content)
    with pytest.raises(ImageLoadError, match=message) as err:
        open_photo(p)
    assert str(p) in str(err.value)


def test_corrupt_png_data(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (5, 5, 5)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    for i in range(60, 90):
        data[i] ^= 0x55
    p = tmp_path / "corrupt.png"
    p.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError):
        open_photo(p)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="does not exist"):
        open_photo(tmp_path / "gone.jpg")
    with pytest.raises(ImageLoadError, match="folder"):
        open_photo(tmp_path)


def test_decompression_bomb_is_refused(tmp_path):
    p = _save(Image.new("1", (12_000, 10_000)), tmp_path / "huge.png")  # 120 MP, tiny file
    with pytest.raises(ImageLoadError, match="too large"):
        open_photo(p)


def test_model_input_is_squashed_to_224(tmp_path):
    p = _save(Image.new("RGB", (4000, 3000), (90, 90, 90)), tmp_path / "big.jpg", quality=80)
    arr, size = load_for_model(p)
    assert arr.shape == (224, 224, 3) and arr.dtype == np.uint8
    assert size[0] >= 224 and size[1] >= 224


def test_folders_are_walked_for_images_only(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    keep = [_save(Image.new("RGB", (4, 4)), tmp_path / "a" / "b" / "x.PNG"),
            _save(Image.new("RGB", (4, 4)), tmp_path / "y.jpeg")]
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / ".hidden.jpg").write_bytes(b"x")
    assert sorted(iter_image_files([tmp_path])) == sorted(keep)
