"""Reading still images for recognition: any common format in, BGR uint8 out, or a clear error.

:func:`load_image` never lets OpenCV fail silently (``imread`` returns ``None`` for
almost every problem) and never lets a huge image exhaust memory: the header is
checked against :data:`MAX_PIXELS` before the pixels are decoded.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

logger = logging.getLogger(__name__)

MAX_PIXELS = 100_000_000  # 100 MP: bigger images are refused before decoding
MAX_FILE_BYTES = 512 * 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"RIFF", "webp"),
    (b"P1", "pnm"), (b"P2", "pnm"), (b"P3", "pnm"), (b"P4", "pnm"), (b"P5", "pnm"), (b"P6", "pnm"),
)


def sniff_format(head: bytes) -> str | None:
    """The image format named by the first bytes of a file, or ``None`` if unknown."""
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            if name == "webp" and head[8:12] != b"WEBP":
                continue
            return name
    return None


def _declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """Width and height from a PNG, JPEG or BMP header without decoding (``None`` if not found)."""
    try:
        if fmt == "png" and len(data) >= 24:
            return struct.unpack(">II", data[16:24])
        if fmt == "bmp" and len(data) >= 26:
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if fmt == "jpeg":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                seg = struct.unpack(">H", data[i + 2:i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", data[i + 5:i + 9])
                    return w, h
                i += 2 + seg
    except struct.error:
        return None
    return None


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Convert a decoded image (gray, gray+alpha, BGR, BGRA; 8/16-bit or float) to BGR uint8.

    Raises:
        ImageError: the array has a shape or type that is not an image.
    """
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        scale = 255.0 if float(np.nanmax(img, initial=0.0)) <= 1.0 else 1.0
        img = np.nan_to_num(img * scale).clip(0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = img.clip(0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3:
        channels = img.shape[2]
        if channels == 1:
            return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if channels == 2:  # gray + alpha
            return cv2.cvtColor(np.ascontiguousarray(img[..., 0]), cv2.COLOR_GRAY2BGR)
        if channels == 3:
            return np.ascontiguousarray(img)
        if channels == 4:
            return _flatten_alpha(img)
    raise ImageError(f"unsupported image array shape {img.shape}")


def _flatten_alpha(bgra: np.ndarray) -> np.ndarray:
    """Composite a BGRA image over white (transparent areas become white, not black)."""
    alpha = bgra[..., 3:4].astype(np.float32) / 255.0
    out = bgra[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return out.round().astype(np.uint8)


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes to BGR uint8.

    Args:
        data: the encoded file content.
        name: used in error messages.
        max_pixels: refuse images with more pixels than this (checked before decoding).

    Raises:
        ImageError: empty, not an image, truncated/corrupt, or too large.
    """
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageError(f"{name}: not a supported image format (JPEG, PNG, BMP, TIFF, WebP, PNM)")
    size = _declared_size(data, fmt)
    if size and size[0] * size[1] > max_pixels:
        raise ImageError(f"{name}: image is too large ({size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} MP, limit {max_pixels / 1e6:.0f} MP)")
    if size and (size[0] == 0 or size[1] == 0):
        raise ImageError(f"{name}: image has zero width or height")
    if fmt == "jpeg" and data.rfind(b"\xff\xd9") < 0:
        raise ImageError(f"{name}: truncated JPEG file (no end-of-image marker)")
    buf = np.frombuffer(data, np.uint8)
    # JPEG: decode with EXIF orientation applied; others unchanged to keep 16-bit depth and alpha.
    flags = cv2.IMREAD_COLOR if fmt == "jpeg" else cv2.IMREAD_UNCHANGED
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error as exc:
        raise ImageError(f"{name}: cannot decode {fmt}: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if img is None or img.size == 0:
        raise ImageError(f"{name}: cannot decode {fmt} data (corrupt or truncated file)")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ImageError(f"{name}: image is too large ({img.shape[1]}x{img.shape[0]}, limit {max_pixels / 1e6:.0f} MP)")
    return to_bgr8(img)


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as BGR uint8 (gray, RGBA, 16-bit and palette images are converted).

    Args:
        path: the file.
        max_pixels: refuse images with more pixels than this.

    Raises:
        ImageError: missing, unreadable, a directory, empty, not an image, corrupt/truncated
            or too large; the message names the file and the reason.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise ImageError(f"{p}: is a directory, not an image file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{p}: file is too large ({size / 2**20:.0f} MiB)")
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{p}: no such file") from None
    except PermissionError:
        raise ImageError(f"{p}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return decode_image(data, str(p), max_pixels)
