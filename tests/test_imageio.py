"""plategate.imageio: every kind of bad or unusual image file gives BGR uint8 or a clear ImageError."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from plategate.errors import ImageError
from plategate.imageio import MAX_PIXELS, decode_image, load_image, to_bgr8


@pytest.fixture
def photo() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.zeros((60, 90, 3), np.uint8)
    img[:, :30] = (255, 0, 0)
    img[:, 30:60] = (0, 255, 0)
    img[:, 60:] = (0, 0, 255)
    return (img.astype(np.int16) + rng.integers(-3, 4, img.shape)).clip(0, 255).astype(np.uint8)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_jpeg_and_png_colour_roundtrip(tmp_path, photo):
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tif"):
        path = tmp_path / f"a{ext}"
        assert cv2.imwrite(str(path), photo)
        img = load_image(path)
        assert img.shape == photo.shape and img.dtype == np.uint8
        assert np.abs(img.astype(int) - photo.astype(int)).mean() < 12, ext


def test_zero_byte_file(tmp_path):
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        load_image(_write(tmp_path, "empty.jpg", b""))


def test_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="notes.jpg: not a supported image format"):
        load_image(_write(tmp_path, "notes.jpg", b"plate list\nAB123CD\n"))


def test_missing_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_truncated_jpeg_and_png(tmp_path, photo):
    ok, jpg = cv2.imencode(".jpg", photo)
    with pytest.raises(ImageError, match="truncated JPEG"):
        load_image(_write(tmp_path, "cut.jpg", jpg.tobytes()[: len(jpg) // 2]))
    ok, png = cv2.imencode(".png", photo)
    with pytest.raises(ImageError, match="cut.png: cannot decode png"):
        load_image(_write(tmp_path, "cut.png", png.tobytes()[: len(png) // 2]))


def test_corrupt_jpeg_body(tmp_path, photo):
    ok, jpg = cv2.imencode(".jpg", photo)
    data = bytearray(jpg.tobytes())
    data[2:40] = b"\x00" * 38  # wipe the headers after SOI, keep the end marker
    with pytest.raises(ImageError, match="bad.jpg"):
        load_image(_write(tmp_path, "bad.jpg", bytes(data)))


def _png_with_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is rewritten to claim *width* x *height*."""
    ok, png = cv2.imencode(".png", np.zeros((2, 2), np.uint8))
    data = bytearray(png.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_huge_image_refused_before_decoding(tmp_path):
    with pytest.raises(ImageError, match=r"too large \(20000x20000 = 400 MP, limit 100 MP\)"):
        load_image(_write(tmp_path, "huge.png", _png_with_size(20000, 20000)))
    ok, jpg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(jpg.tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
    with pytest.raises(ImageError, match="huge.jpg: image is too large"):
        load_image(_write(tmp_path, "huge.jpg", bytes(data)))


def test_10000_square_is_within_the_limit_and_decodes(tmp_path):
    assert 10000 * 10000 <= MAX_PIXELS
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.full((10000, 10000), 77, np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    img = load_image(path)
    assert img.shape == (10000, 10000, 3) and img[5000, 5000, 0] == 77
    with pytest.raises(ImageError, match="too large"):
        load_image(path, max_pixels=50_000_000)


def test_gray_becomes_bgr(tmp_path):
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), gray)
    img = load_image(path)
    assert img.shape == (5, 25, 3)
    assert (img[..., 0] == gray).all() and (img[..., 2] == gray).all()


def test_sixteen_bit_is_scaled(tmp_path):
    g16 = np.full((4, 6), 0xABCD, np.uint16)
    path = tmp_path / "g16.png"
    cv2.imwrite(str(path), g16)
    img = load_image(path)
    assert img.dtype == np.uint8 and (img == 0xAB).all()
    c16 = np.zeros((4, 6, 3), np.uint16)
    c16[..., 2] = 65535
    cv2.imwrite(str(tmp_path / "c16.png"), c16)
    img = load_image(tmp_path / "c16.png")
    assert (img[..., 2] == 255).all() and (img[..., 0] == 0).all()


def test_rgba_and_gray_alpha_composite_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 2] = 200  # red in BGR order
    rgba[:2, :, 3] = 255  # top half opaque, bottom half fully transparent
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rgba)
    img = load_image(path)
    assert tuple(img[0, 0]) == (0, 0, 200)
    assert tuple(img[3, 3]) == (255, 255, 255)
    Image.fromarray(np.dstack([np.full((3, 3), 40, np.uint8), np.full((3, 3), 255, np.uint8)]), "LA").save(tmp_path / "la.png")
    assert tuple(load_image(tmp_path / "la.png")[1, 1]) == (40, 40, 40)


def test_palette_png(tmp_path):
    pal = Image.new("P", (5, 5))
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * (254 * 3))
    pal.putpixel((2, 2), 1)
    pal.save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    assert img.shape == (5, 5, 3)
    assert tuple(img[2, 2]) == (30, 200, 10)  # BGR
    assert tuple(img[0, 0]) == (0, 0, 0)


def test_decode_bytes_and_array_conversion():
    with pytest.raises(ImageError, match="<bytes>: empty"):
        decode_image(b"")
    assert to_bgr8(np.ones((2, 2), np.float32)).max() == 255
    with pytest.raises(ImageError, match="unsupported image array shape"):
        to_bgr8(np.zeros((2, 2, 5), np.uint8))
