"""Rendering a line of plate characters into an ink mask with one of several fonts.

Four kinds of font are supported:

* TrueType / OpenType fonts through Pillow: the DejaVu family installed with the
  OS, Pillow's built-in Aileron face, and, where installed, the narrow and
  DIN-like sans faces of Debian's font packages listed in :data:`EXTRA_FACES`
  (``tools/train_setup.sh`` installs them; rendering works without them),
* OpenCV's Hershey stroke fonts (with random stroke thickness),
* the project's own constant-stroke plate face family (:mod:`tools.synth.strokefont`),
  DIN-like, with variants such as an open or closed 4 and a round to squarish O,
* real character crops from ``chars/gb`` and ``chars/br`` of the shared datasets
  (binarised glyphs photographed from plates), when a data directory is given.

Every renderer returns a float32 mask in [0, 1] (1 = ink) whose rows span exactly
the cap height of the characters, so that callers can place text precisely.
"""

from __future__ import annotations

import csv
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.synth.strokefont import compose_line, stroke_mask, style_named

logger = logging.getLogger(__name__)

#: share of texts drawn in the stroke face family (:mod:`tools.synth.strokefont`)
STROKE_SHARE = 0.3

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")

#: TrueType faces used for plate text (bold and condensed faces look most plate-like).
TTF_FACES: tuple[str, ...] = (
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "<pillow-default>",
)

#: Optional faces from Debian font packages (narrow / condensed grotesques resemble
#: the DIN and Mandatory faces of South American and European plates). Names are
#: paths below ``/usr/share/fonts``; faces that are not installed are skipped.
EXTRA_FACES: tuple[str, ...] = (
    "truetype/liberation/LiberationSansNarrow-Bold.ttf",
    "truetype/liberation/LiberationSans-Bold.ttf",
    "opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "opentype/urw-base35/NimbusSans-Bold.otf",
    "truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    "truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    "truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf",
    "truetype/croscore/Arimo-Bold.ttf",
    "truetype/freefont/FreeSansBold.ttf",
    "opentype/b612/B612-Bold.otf",
)
#: The narrow faces among :data:`EXTRA_FACES`, preferred for Argentine, Brazilian and Mercosul plates.
NARROW_FACES: tuple[str, ...] = (
    "truetype/liberation/LiberationSansNarrow-Bold.ttf",
    "opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    "truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    "DejaVuSansCondensed-Bold.ttf",
)
FONT_ROOT = Path("/usr/share/fonts")

HERSHEY_FACES: tuple[int, ...] = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)

_BASE_SIZE = 96  # render size in pixels before scaling to the requested cap height


@dataclass(frozen=True)
class FontSpec:
    """Which font to draw with.

    Attributes:
        kind: ``"ttf"``, ``"hershey"``, ``"stroke"`` or ``"glyphs"``.
        name: the TTF file name, the Hershey font id (as a string), the seed of the
            stroke face (as a string, ``"ar:"``-prefixed for the old Argentine face; it
            fixes every parameter of the face: :func:`tools.synth.strokefont.style_named`) or the
            glyph set (``"gb"`` / ``"br"``).
        weight: stroke thickness factor (1.0 = the face's own; Hershey fonts draw
            thicker strokes, TrueType masks are dilated or eroded).
    """

    kind: str
    name: str
    weight: float = 1.0


@functools.lru_cache(maxsize=32)
def _truetype(name: str, size: int):
    from PIL import ImageFont

    if name == "<pillow-default>":
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(_face_path(name)), size)


def _face_path(name: str, font_root: Path | None = None, dejavu_dir: Path | None = None) -> Path:
    """DejaVu faces are named by file name, the extra faces by their path below the font root."""
    return (font_root or FONT_ROOT) / name if "/" in name else (dejavu_dir or DEJAVU_DIR) / name


@functools.lru_cache(maxsize=1024)
def _advance(name: str, ch: str) -> float:
    return _truetype(name, _BASE_SIZE).getlength(ch)


def available_ttf() -> tuple[str, ...]:
    """Return the TrueType / OpenType faces that exist on this machine."""
    return _available(TTF_FACES + EXTRA_FACES, FONT_ROOT, DEJAVU_DIR)


@functools.lru_cache(maxsize=8)
def _available(names: tuple[str, ...], font_root: Path, dejavu_dir: Path) -> tuple[str, ...]:
    """The faces of *names* found on disk below *font_root* / *dejavu_dir* (cached per folder)."""
    return tuple(n for n in names if n.startswith("<") or _face_path(n, font_root, dejavu_dir).is_file())


def _crop_rows(mask: np.ndarray, top: int, bottom: int) -> np.ndarray:
    cols = np.flatnonzero(mask.max(axis=0) > 0.05)
    if cols.size == 0:
        return mask[top:bottom, :1]
    return mask[top:bottom, cols[0] : cols[-1] + 1]


def _ttf_mask(text: str, name: str, spacing: float) -> np.ndarray:
    from PIL import Image, ImageDraw

    font = _truetype(name, _BASE_SIZE)
    cap_top, cap_bottom = font.getbbox("H0", anchor="ls")[1], 0
    cap_h = cap_bottom - cap_top
    gap = spacing * cap_h
    width = int(sum(_advance(name, c) for c in text) + gap * len(text) + cap_h)
    canvas = Image.new("L", (max(width, 8), int(cap_h * 2.2)), 0)
    draw = ImageDraw.Draw(canvas)
    baseline = int(cap_h * 1.5)
    x = cap_h * 0.5
    low = []
    for ch in text:
        if font.getbbox(ch, anchor="ls")[3] > 0.05 * cap_h:
            low.append((int(x), ch))
        else:
            draw.text((x, baseline), ch, fill=255, font=font, anchor="ls")
        x += _advance(name, ch) + gap
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    for left, ch in low:
        glyph = _standing_glyph(font, ch, cap_h)
        right = min(mask.shape[1], left + glyph.shape[1])
        rows = mask[baseline - cap_h: baseline + 1, left:right]
        np.maximum(rows, glyph[:, : right - left], out=rows)
    return _crop_rows(mask, baseline - cap_h, baseline + 1)


def _standing_glyph(font, ch: str, cap_h: int) -> np.ndarray:
    """*ch* (a J or Q whose tail hangs below the baseline in this face) squeezed to stand on the
    baseline, as plate faces draw it: cropping at the baseline would turn a J into an I and a Q into an O."""
    from PIL import Image, ImageDraw

    bottom = int(font.getbbox(ch, anchor="ls")[3])
    img = Image.new("L", (int(font.getlength(ch)) + cap_h, cap_h + bottom + 2), 0)
    ImageDraw.Draw(img).text((0, cap_h), ch, fill=255, font=font, anchor="ls")
    glyph = np.asarray(img, dtype=np.float32)[: cap_h + bottom + 1] / 255.0
    return cv2.resize(glyph, (glyph.shape[1], cap_h + 1), interpolation=cv2.INTER_AREA)


def _hershey_mask(text: str, face: int, weight: float, spacing: float) -> np.ndarray:
    scale = _BASE_SIZE / 30.0
    thickness = max(1, int(round(scale * 2.2 * weight)))
    (_, cap_h), _ = cv2.getTextSize("H", face, scale, thickness)
    gap = spacing * cap_h
    widths = [cv2.getTextSize(c, face, scale, thickness)[0][0] for c in text]
    width = int(sum(widths) + gap * len(text) + cap_h)
    canvas = np.zeros((int(cap_h * 2.2), max(width, 8)), np.uint8)
    baseline = int(cap_h * 1.5)
    x = cap_h * 0.5
    for ch, w in zip(text, widths, strict=True):
        cv2.putText(canvas, ch, (int(x), baseline), face, scale, 255, thickness, cv2.LINE_AA)
        x += w + gap
    mask = canvas.astype(np.float32) / 255.0
    half = thickness // 2
    return _crop_rows(mask, baseline - cap_h - half, baseline + half + 1)


def _stroke(mask: np.ndarray, weight: float) -> np.ndarray:
    """Thicken (*weight* > 1) or thin (< 1) the strokes of a mask rendered at the base size."""
    radius = int(round(abs(weight - 1.0) * mask.shape[0] * 0.12))
    if radius < 1:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    padded = cv2.copyMakeBorder(mask, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
    out = cv2.dilate(padded, kernel) if weight > 1 else cv2.erode(padded, kernel)
    return out[radius:-radius, radius:-radius]


@functools.lru_cache(maxsize=4)
def load_glyphs(chars_dir: Path) -> dict[str, list[np.ndarray]]:
    """Load binarised character crops as ink masks grouped by character.

    Args:
        chars_dir: a folder with ``labels.csv`` (file,char) and the crops.

    Returns:
        A dict char -> list of float32 masks (1 = ink); empty when the folder is unusable.
    """
    glyphs: dict[str, list[np.ndarray]] = {}
    labels = chars_dir / "labels.csv"
    if not labels.is_file():
        return glyphs
    with labels.open(newline="") as fh:
        for row in csv.DictReader(fh):
            img = cv2.imread(str(chars_dir / row["file"]), cv2.IMREAD_GRAYSCALE)
            char = (row.get("char") or "").strip().upper()
            if img is None or len(char) != 1 or min(img.shape) < 8:
                continue
            ink = (img < 128).astype(np.float32)
            # glyphs whose ink touches most of the frame are bad crops (edges, bars)
            fill = ink.mean()
            if not 0.12 < fill < 0.75:
                continue
            glyphs.setdefault(char, []).append(ink)
    logger.debug("loaded %s glyph classes from %s", len(glyphs), chars_dir)
    return glyphs


def _glyph_mask(text: str, glyphs: dict[str, list[np.ndarray]], spacing: float, rng: np.random.Generator) -> np.ndarray:
    cap_h = 48

    def glyph(ch: str) -> np.ndarray:
        choices = glyphs[ch]
        g = choices[int(rng.integers(len(choices)))]
        w = max(4, int(round(g.shape[1] * cap_h / g.shape[0])))
        return cv2.resize(g, (w, cap_h), interpolation=cv2.INTER_LINEAR)

    return compose_line(text, cap_h, glyph, space=cap_h // 3, gap=int(spacing * cap_h), thickness=6, margin=2)


def glyph_sets(data_dir: Path | None) -> dict[str, dict[str, list[np.ndarray]]]:
    """Return the usable glyph sets under ``data_dir/chars`` (empty without data)."""
    if data_dir is None:
        return {}
    sets = {}
    for name in ("gb", "br"):
        g = load_glyphs(Path(data_dir) / "chars" / name)
        if g:
            sets[name] = g
    return sets


def choose_font(rng: np.random.Generator, data_dir: Path | None, text: str, preferred: tuple[str, ...] = ()) -> FontSpec:
    """Pick a font for *text*: real glyphs 20 % of the time, Hershey faces 15 % (35 %
    when no glyph set holds every character of *text*), the stroke face family
    :data:`STROKE_SHARE`, and TrueType faces (mostly *preferred*) the rest.
    """
    r = rng.random()
    sets = glyph_sets(data_dir)
    usable = [n for n, g in sets.items() if all(c in g for c in text if c.isalnum())]
    if usable and r < 0.2:
        return FontSpec("glyphs", usable[int(rng.integers(len(usable)))])
    if r < 0.35:
        face = HERSHEY_FACES[int(rng.integers(len(HERSHEY_FACES)))]
        return FontSpec("hershey", str(face), float(rng.uniform(0.8, 1.6)))
    if r < 0.35 + STROKE_SHARE:
        return FontSpec("stroke", str(int(rng.integers(2**31))))
    faces = [f for f in preferred if f in available_ttf()] if preferred and rng.random() < 0.7 else []
    faces = faces or list(available_ttf())
    weight = float(rng.uniform(0.75, 1.35)) if rng.random() < 0.4 else 1.0
    return FontSpec("ttf", faces[int(rng.integers(len(faces)))], weight)


def text_mask(
    text: str, font: FontSpec, cap_height: int, rng: np.random.Generator, *, spacing: float = 0.12, data_dir: Path | None = None
) -> np.ndarray:
    """Render *text* (characters, spaces, ``-`` and ``·``) as an ink mask.

    Args:
        text: what to draw, separators included.
        font: the font to use.
        cap_height: height in pixels of the returned mask (the cap height).
        rng: random source (glyph choice).
        spacing: extra gap between characters as a fraction of the cap height.
        data_dir: the shared datasets folder (needed for glyph fonts).

    Returns:
        A float32 array of shape (cap_height, width) in [0, 1].

    Raises:
        ValueError: an unknown font kind, or a glyph font missing a character.
    """
    if font.kind == "ttf":
        mask = _ttf_mask(text, font.name, spacing)
        if font.weight != 1.0:
            mask = _stroke(mask, font.weight)
    elif font.kind == "hershey":
        mask = _hershey_mask(text, int(font.name), font.weight, spacing)
    elif font.kind == "stroke":
        mask = stroke_mask(text, style_named(font.name), spacing)
    elif font.kind == "glyphs":
        sets = glyph_sets(data_dir)
        glyphs = sets.get(font.name)
        if glyphs is None or any(c.isalnum() and c not in glyphs for c in text):
            raise ValueError(f"glyph set {font.name!r} cannot draw {text!r}")
        mask = _glyph_mask(text, glyphs, spacing, rng)
    else:
        raise ValueError(f"unknown font kind {font.kind!r}")
    scale = cap_height / max(1, mask.shape[0])
    width = max(1, int(round(mask.shape[1] * scale)))
    return np.clip(cv2.resize(mask, (width, cap_height), interpolation=cv2.INTER_AREA), 0.0, 1.0)
