"""Photometric and geometric augmentations that make clean plate renders look like camera crops.

Everything takes and returns uint8 images (BGR or grayscale) and draws its randomness
from a ``numpy.random.Generator``, so a seed reproduces a sample exactly.

The main entry point is :func:`camera_crop`: it warps a clean plate onto a cluttered
background with a random perspective, crops around it the way a detector box would
(tight or loose), then applies lighting, blur, noise, glare, compression and, for a
share of samples, an infrared night look (grayscale, strong retro-reflection,
sometimes inverted polarity).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)


def _gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _like(img: np.ndarray, gray: np.ndarray) -> np.ndarray:
    return gray if img.ndim == 2 else cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def clutter(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Return a BGR background that looks like a bumper, a car body or a road.

    A gradient in a random colour with random bars and rectangles and noise.
    """
    base = rng.integers(0, 256, 3).astype(np.float32)
    other = rng.integers(0, 256, 3).astype(np.float32)
    t = np.linspace(0, 1, height if rng.random() < 0.5 else width, dtype=np.float32)
    grad = t[:, None, None] if len(t) == height else t[None, :, None]
    img = np.broadcast_to(base * (1 - grad) + other * grad, (height, width, 3)).copy()
    for _ in range(int(rng.integers(0, 6))):
        colour = rng.integers(0, 256, 3).tolist()
        p1 = (int(rng.integers(-width // 4, width)), int(rng.integers(-height // 4, height)))
        p2 = (p1[0] + int(rng.integers(2, width // 2 + 3)), p1[1] + int(rng.integers(2, height // 2 + 3)))
        if rng.random() < 0.5:
            cv2.rectangle(img, p1, p2, colour, -1)
        else:
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 6)))
    grain = rng.normal(0, rng.uniform(2, 15), ((height + 1) // 2, (width + 1) // 2, 3)).astype(np.float32)
    img += cv2.resize(grain, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.clip(img, 0, 255).astype(np.uint8)


def perspective_crop(
    plate: np.ndarray,
    rng: np.random.Generator,
    *,
    out_height: int | None = None,
    max_rotate: float = 5.0,
    max_skew: float = 0.1,
    margin: tuple[float, float] = (-0.04, 0.25),
    background: np.ndarray | None = None,
    cut: float = 0.0,
) -> np.ndarray:
    """Warp *plate* with a random perspective onto clutter and crop around it like a detector box.

    Args:
        plate: the clean plate (BGR uint8).
        rng: random source.
        out_height: height of the returned crop (default: the plate's height).
        max_rotate: largest in-plane rotation in degrees.
        max_skew: largest corner displacement as a fraction of the plate height (twice that horizontally).
        margin: range of the margin around the plate's bounding box on each side, as a
            fraction of the plate height (negative values cut into the plate edge).
        background: optional BGR image to take the surroundings from.
        cut: when above 0, the box is shifted like a detector box that sits too high (or,
            one time in four, too low): this fraction of the plate height is cut off the
            bottom (top) edge and the opposite margin widens.

    Returns:
        A BGR uint8 crop.
    """
    h, w = plate.shape[:2]
    pad = int(h * 1.0)
    big_h, big_w = h + 2 * pad, w + 2 * pad
    if background is not None and background.shape[0] >= 8 and background.shape[1] >= 8:
        y = int(rng.integers(0, max(1, background.shape[0] - 8)))
        x = int(rng.integers(0, max(1, background.shape[1] - 8)))
        patch = background[y:, x:]
        canvas = cv2.resize(patch[: max(8, patch.shape[0] // 2), : max(8, patch.shape[1] // 2)], (big_w, big_h))
    else:
        canvas = clutter(big_h, big_w, rng)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jit = rng.uniform(-max_skew, max_skew, (4, 2)) * np.float32([2 * h, h])
    dst = src + jit.astype(np.float32)
    angle = np.deg2rad(rng.uniform(-max_rotate, max_rotate))
    centre = np.float32([w / 2, h / 2])
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (dst - centre) @ rot.T + centre + pad
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(plate, m, (big_w, big_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (big_w, big_h), flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    canvas = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)
    x0, y0 = dst.min(axis=0)
    x1, y1 = dst.max(axis=0)
    mx = rng.uniform(*margin, 2) * h
    my = rng.uniform(*margin, 2) * h
    if cut > 0:  # measured from the plate's own (skewed) edge, not from its bounding box
        top = rng.random() < 0.25
        my = np.array([-cut * h, rng.uniform(0.15, 0.6) * h] if top else [rng.uniform(0.15, 0.6) * h, -cut * h])
        y0, y1 = (dst[:2, 1].mean(), y1) if top else (y0, dst[2:, 1].mean())
    cx0, cy0 = int(max(0, x0 - mx[0])), int(max(0, y0 - my[0]))
    cx1, cy1 = int(min(big_w, x1 + mx[1])), int(min(big_h, y1 + my[1]))
    crop = canvas[cy0:cy1, cx0:cx1]
    if crop.size == 0:
        crop = canvas[pad : pad + h, pad : pad + w]
    oh = out_height or h
    ow = max(4, int(round(crop.shape[1] * oh / crop.shape[0])))
    return cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_AREA)


def blur(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Gaussian, motion or defocus blur of random size (scaled by *strength*)."""
    kind = rng.integers(3)
    h = img.shape[0]
    if kind == 0:
        sigma = rng.uniform(0.3, 1.6) * strength * h / 48
        return cv2.GaussianBlur(img, (0, 0), max(0.1, sigma))
    if kind == 1:
        k = max(3, int(rng.uniform(2, 7) * strength * h / 48) | 1)
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(-30, 30)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    k = max(3, int(rng.uniform(2, 5) * strength * h / 48) | 1)
    kernel = np.zeros((k, k), np.float32)
    cv2.circle(kernel, (k // 2, k // 2), k // 2, 1.0, -1)
    return cv2.filter2D(img, -1, kernel / kernel.sum())


def noise(img: np.ndarray, rng: np.random.Generator, sigma: float | None = None) -> np.ndarray:
    """Add Gaussian sensor noise (sigma in grey levels, random when None)."""
    s = rng.uniform(2, 18) if sigma is None else sigma
    out = img.astype(np.float32) + rng.normal(0, s, img.shape[:2] + ((1,) if img.ndim == 3 else ())).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def contrast(img: np.ndarray, rng: np.random.Generator, low: bool = False) -> np.ndarray:
    """Random gain, offset and gamma; *low* squeezes the range to as little as a fifth."""
    f = img.astype(np.float32) / 255.0
    f = f ** rng.uniform(0.6, 1.6)
    span = rng.uniform(0.25, 0.5) if low else rng.uniform(0.6, 1.0)
    lo = rng.uniform(0, 1 - span)
    return np.clip((lo + f * span) * 255, 0, 255).astype(np.uint8)


def glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add a bright specular blob or a streak of sunlight."""
    h, w = img.shape[:2]
    light = np.zeros((h, w), np.float32)
    centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    axes = (int(rng.uniform(0.1, 0.6) * w), int(rng.uniform(0.2, 0.9) * h))
    cv2.ellipse(light, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    light = cv2.GaussianBlur(light, (0, 0), max(1.0, 0.3 * min(axes)))
    amount = rng.uniform(0.2, 0.6)
    light = light[..., None] if img.ndim == 3 else light
    out = img.astype(np.float32) + light * amount * 255
    return np.clip(out, 0, 255).astype(np.uint8)


def shadow(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Darken one side of the image along a random straight edge."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    d = (xx - w / 2) * np.cos(a) + (yy - h / 2) * np.sin(a) - rng.uniform(-0.3, 0.3) * w
    fade = np.where(d > 0, rng.uniform(0.35, 0.75), 1.0).astype(np.float32)
    fade = cv2.GaussianBlur(fade, (0, 0), max(1.0, h * 0.05))
    fade = fade[..., None] if img.ndim == 3 else fade
    return np.clip(img * fade, 0, 255).astype(np.uint8)


def ir_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a colour crop look like an infrared night frame.

    Grayscale from a random channel mix (IR sees paint differently from the eye),
    retro-reflective background pushed towards white, dark surroundings, and with
    some probability inverted polarity (white text on a dark plate).
    """
    wts = rng.dirichlet((1.0, 1.0, 1.0)).astype(np.float32)
    src = img.astype(np.float32) if img.ndim == 3 else np.repeat(img[..., None].astype(np.float32), 3, axis=2)
    g = (src @ wts) / 255.0
    g = np.clip((g - rng.uniform(0.0, 0.3)) * rng.uniform(1.2, 2.5), 0, 1) ** rng.uniform(0.5, 1.2)
    if rng.random() < 0.25:
        g = 1.0 - g
    if rng.random() < 0.5:
        g = cv2.GaussianBlur(g, (0, 0), rng.uniform(0.5, 1.5))  # bloom of the bright plate
    out = (g * 255).astype(np.uint8)
    return _like(img, out)


def jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round-trip through JPEG at a random quality (20-90)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 91))])
    if not ok:
        return img
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def colour_cast(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale the colour channels independently (white balance, sodium lamps)."""
    if img.ndim == 2:
        return img
    gains = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    return np.clip(img.astype(np.float32) * gains, 0, 255).astype(np.uint8)


def camera_crop(
    plate: np.ndarray,
    rng: np.random.Generator,
    *,
    out_height: int = 48,
    ir_probability: float = 0.3,
    background: np.ndarray | None = None,
    strength: float = 1.0,
    cut_share: float = 0.0,
    tight: bool = False,
) -> np.ndarray:
    """Turn a clean plate render into a realistic camera crop.

    Args:
        plate: clean BGR plate from :func:`tools.synth.plates.render_plate`.
        rng: random source.
        out_height: height of the crop in pixels; the camera resolution is also
            simulated by shrinking and re-enlarging a share of samples.
        ir_probability: share of samples given the infrared night look.
        background: optional BGR scene to take the surroundings from.
        strength: scales blur and noise (0 gives geometry only).
        cut_share: share of samples whose box is shifted off the plate, cutting 6-22 %
            of the plate height off one long edge (see :func:`perspective_crop`).
        tight: crop like a hand-drawn box around a plate seen nearly head-on: at most
            2 degrees of rotation, little skew and a margin of -4..+6 % of the plate
            height (the plate's edge runs along the crop's edge).

    Returns:
        A BGR uint8 crop of height *out_height*.
    """
    cut = float(rng.uniform(0.06, 0.22)) if cut_share > 0 and rng.random() < cut_share else 0.0
    if tight:
        geometry = {"max_rotate": 2.0, "max_skew": 0.03, "margin": (-0.04, 0.06)}
    else:
        geometry = {"margin": (-0.05, 0.2) if rng.random() < 0.75 else (0.05, 0.45)}
    img = perspective_crop(plate, rng, out_height=out_height, background=background, cut=cut, **geometry)
    if strength <= 0:
        return img
    if rng.random() < 0.5:  # low camera resolution: plate only a few pixels high
        small_h = int(rng.integers(min(18, out_height - 1), out_height))
        small = cv2.resize(img, (max(4, img.shape[1] * small_h // out_height), small_h), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        img = colour_cast(img, rng)
    if rng.random() < 0.2:
        img = shadow(img, rng)
    if rng.random() < ir_probability:
        img = ir_look(img, rng)
    if rng.random() < 0.12:
        img = glare(img, rng)
    img = contrast(img, rng, low=rng.random() < 0.2)
    if rng.random() < 0.45 * strength:
        img = blur(img, rng, strength)
    if rng.random() < 0.7:
        img = noise(img, rng, float(rng.uniform(1, 14) * strength))
    if rng.random() < 0.4:
        img = jpeg(img, rng)
    return img
