"""fer_app.io: every input kind and format, EXIF, modes, bit depths, size cap, and bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_PHOTOS, needs_photos
from fer_app import io as fio
from fer_app.io import ImageLoadError, load_image

skdata = pytest.importorskip("skimage.data")


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_formats_decode_to_uint8_rgb(fmt):
    src = Image.fromarray(skdata.astronaut())
    out = load_image(encode(src, fmt))
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - skdata.astronaut().astype(int)).mean() < 8


def test_paths_bytes_file_objects_and_arrays_agree(tmp_path):
    arr = skdata.astronaut()
    p = tmp_path / "a.png"
    Image.fromarray(arr).save(p)
    for src in (p, str(p), p.read_bytes(), open(p, "rb"), arr):
        assert np.array_equal(load_image(src), arr)


def test_modes_gray_rgba_palette_16bit():
    gray = skdata.camera()
    assert np.array_equal(load_image(encode(Image.fromarray(gray), "PNG"))[:, :, 1], gray)
    rgba = np.dstack([skdata.astronaut(), np.zeros((512, 512), np.uint8)])  # fully transparent
    assert (load_image(encode(Image.fromarray(rgba), "PNG")) == 255).all()  # composited on white
    pal = Image.fromarray(skdata.astronaut()).convert("P")
    assert load_image(encode(pal, "PNG")).shape == (512, 512, 3)
    g16 = (gray.astype(np.uint16) * 257)
    out16 = load_image(encode(Image.fromarray(g16), "PNG"))
    assert np.abs(out16[:, :, 0].astype(int) - gray.astype(int)).max() <= 1
    assert load_image(np.zeros((10, 12), np.float32)).shape == (10, 12, 3)


def test_exif_orientation_is_applied():
    arr = np.zeros((40, 80, 3), np.uint8)
    arr[:, :10] = 255  # a white band on the left of the stored pixels
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    out = load_image(encode(img, "JPEG", exif=exif))
    assert out.shape == (80, 40, 3)
    assert out[:10].mean() > 200  # the band is now on top


@needs_photos
def test_exif_rotated_selfie_is_shown_upright():
    out = load_image(SHARED_PHOTOS / "selfie_exif_rotated.jpg")
    assert out.shape[:2] == (640, 480)


@pytest.mark.parametrize("data,message", [
    (b"", "an empty file"),
    (b"hello, I am a text file", "not a readable image"),
    (None, "truncated or corrupt"),
])
def test_bad_inputs_raise_one_clear_exception(data, message):
    if data is None:
        data = encode(Image.fromarray(skdata.astronaut()), "JPEG")[:3000]
    with pytest.raises(ImageLoadError, match=message):
        load_image(data, name="upload.jpg")


def test_missing_path_and_wrong_types(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image("/nonexistent/x.jpg")
    with pytest.raises(ImageLoadError, match="is a folder, not an image file"):
        load_image(tmp_path)
    with pytest.raises(ImageLoadError):
        load_image(12345)
    with pytest.raises(ImageLoadError):
        load_image(np.zeros((0, 3), np.uint8))


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(fio, "MAX_PIXELS", 100_000)
    big = encode(Image.new("L", (1000, 1000)), "PNG")
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(big)
    # a real bomb: a tiny PNG header claiming 60000 x 60000 pixels
    monkeypatch.setattr(fio, "MAX_PIXELS", 50_000_000)
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(bomb)
