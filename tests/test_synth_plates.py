"""The synthetic plate renderer and the augmentations."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from plategate.vision.reader import plate_shape
from tools.synth import augment
from tools.synth.plates import STYLES, random_text, render_plate

FORMATS = {
    "br": r"[A-Z]{3}[0-9]([0-9]|[A-Z])[0-9]{2}",
    "ar": r"[A-Z]{2}[0-9]{3}[A-Z]{2}|[A-Z]{3}[0-9]{3}",
    "uk": r"[A-Z]{2}[0-9]{2}[A-Z]{3}",
    "eu": r"[0-9A-Z]{5,9}",
    "us": r"[0-9A-Z]{5,8}",
}


def test_styles_cover_the_required_countries():
    assert {"eu", "uk", "us", "br", "ar"} <= set(STYLES)


@pytest.mark.parametrize("style", STYLES)
def test_random_text_follows_the_country_format(style):
    rng = np.random.default_rng(3)
    for _ in range(50):
        text = random_text(style, rng)
        assert re.fullmatch(FORMATS[style], text), (style, text)


@pytest.mark.parametrize("style", STYLES)
def test_render_returns_a_bgr_plate_with_visible_text(style):
    rng = np.random.default_rng(11)
    for height in (24, 64, 100):
        img, text = render_plate(style=style, rng=rng, height=height)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert img.shape[0] == height
        assert img.shape[1] > 1.5 * height  # plates are wide
        assert re.fullmatch(FORMATS[style], text)
        # the text band holds dark-and-light strokes, not a flat colour
        band = img[height // 3 : 2 * height // 3].astype(np.float32).mean(axis=2)
        assert band.std() > 20


def test_given_text_is_normalised_and_kept():
    img, text = render_plate("ab-123 cd", "eu", np.random.default_rng(0))
    assert text == "AB123CD"
    _, text = render_plate("AAA0A00", "br", np.random.default_rng(0))
    assert text == "AAA0A00"


def test_same_seed_gives_the_same_plate():
    a, ta = render_plate(style="ar", rng=np.random.default_rng(5))
    b, tb = render_plate(style="ar", rng=np.random.default_rng(5))
    assert ta == tb and np.array_equal(a, b)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"style": "xx"}, "unknown plate style"),
    ({"text": "ABCDEFGHIJK", "style": "eu"}, "1 to 10"),
    ({"text": "--", "style": "eu"}, "1 to 10"),
    ({"style": "br", "height": 4}, "at least 8"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_plate(rng=np.random.default_rng(0), **kwargs)


def test_dataset_glyphs_and_us_backgrounds(datasets):
    rng = np.random.default_rng(2)
    for style in STYLES:
        for _ in range(8):
            img, text = render_plate(style=style, rng=rng, height=48, data_dir=datasets)
            assert img.shape[0] == 48 and re.fullmatch(FORMATS[style], text)


def test_camera_crop_and_ir_look():
    rng = np.random.default_rng(4)
    plate, _ = render_plate(style="br", rng=rng, height=64)
    for _ in range(20):
        crop = augment.camera_crop(plate, rng, out_height=40)
        assert crop.dtype == np.uint8 and crop.shape[0] == 40 and crop.shape[2] == 3
    ir = augment.ir_look(plate, rng)
    assert ir.shape == plate.shape
    assert np.array_equal(ir[..., 0], ir[..., 1]) and np.array_equal(ir[..., 1], ir[..., 2])
    gray = augment.noise(plate[..., 0], rng, 5.0)
    assert gray.shape == plate.shape[:2]


def _striped_plate() -> np.ndarray:
    """A white 60x240 test plate with a red top stripe and a blue bottom stripe (BGR)."""
    plate = np.full((60, 240, 3), 255, np.uint8)
    plate[:6] = (0, 0, 255)
    plate[-6:] = (255, 0, 0)
    return plate


def _edge_stripes(crop: np.ndarray) -> tuple[bool, bool]:
    """Whether the red top stripe and the blue bottom stripe of the test plate show in *crop*."""
    b, g, r = (crop[..., k].astype(int) for k in range(3))
    return bool(((r > 200) & (g < 60) & (b < 60)).any()), bool(((b > 200) & (g < 60) & (r < 60)).any())


def test_a_cut_box_loses_one_long_edge_of_the_plate():
    plate = _striped_plate()
    grey = np.full((300, 600, 3), 128, np.uint8)
    rng = np.random.default_rng(11)
    for _ in range(10):  # no cut: both stripes are inside the box
        crop = augment.perspective_crop(plate, rng, max_rotate=0, max_skew=0, margin=(0.0, 0.2), background=grey)
        assert _edge_stripes(crop) == (True, True)
    lost = []
    for _ in range(40):
        crop = augment.perspective_crop(plate, rng, max_rotate=0, max_skew=0, margin=(0.0, 0.2), background=grey, cut=0.15)
        top, bottom = _edge_stripes(crop)
        assert top != bottom  # exactly one edge is cut off
        lost.append("top" if bottom else "bottom")
    assert lost.count("bottom") > lost.count("top") > 0  # mostly the bottom, as with a box sitting too high


def test_camera_crop_cut_share_is_off_by_default():
    plate = _striped_plate()
    a = augment.camera_crop(plate, np.random.default_rng(2), out_height=40, strength=0)
    b = augment.camera_crop(plate, np.random.default_rng(2), out_height=40, strength=0, cut_share=0.0)
    assert np.array_equal(a, b)  # the default draws nothing extra, so seeded renders stay the same

    def stripe_share(cut_share: float) -> float:
        crops = [augment.camera_crop(plate, np.random.default_rng(s), out_height=40, strength=0, cut_share=cut_share)
                 for s in range(30)]
        return float(np.mean([sum(_edge_stripes(c)) / 2 for c in crops]))

    assert stripe_share(0.0) == 1.0
    assert stripe_share(1.0) < 0.9  # a cut box loses a whole stripe unless rotation keeps a corner of it


def test_motorcycle_plates_put_three_characters_above_the_rest():
    from tools.synth.plate_text import TWO_LINE_SPLIT, TWO_LINE_STYLES

    assert "moto" in TWO_LINE_STYLES and TWO_LINE_SPLIT == 3
    rng = np.random.default_rng(4)
    for _ in range(12):
        img, text = render_plate(style="moto", rng=rng, height=90)
        assert re.fullmatch(r"[0-9]{3}[A-Z]{3}|[A-Z][0-9]{3}[A-Z]{3}|[A-Z]{3}[0-9][0-9A-Z][0-9]{2}", text), text
        assert img.shape[0] == 90 and img.shape[1] < 1.6 * img.shape[0]  # narrow: read as two lines
        gray = img.astype(np.float32).mean(axis=2)
        top, bottom = gray[15:45], gray[50:85]
        assert top.std() > 20 and bottom.std() > 20  # ink on both lines


def test_missing_extra_fonts_are_skipped(monkeypatch, tmp_path):
    from tools.synth import text

    with_fonts = text.available_ttf()
    monkeypatch.setattr(text, "FONT_ROOT", tmp_path)
    without = text.available_ttf()
    assert not any(f in without for f in text.EXTRA_FACES)
    assert "DejaVuSans-Bold.ttf" in without and set(without) <= set(with_fonts)
    rng = np.random.default_rng(0)
    for _ in range(20):  # rendering never picks a face that is not installed
        font = text.choose_font(rng, None, "ABC123", text.NARROW_FACES)
        assert font.kind != "ttf" or font.name in without


def test_stroke_weight_thickens_and_thins_truetype_text():
    from tools.synth.text import FontSpec, text_mask

    rng = np.random.default_rng(0)
    ink = {w: text_mask("AB12", FontSpec("ttf", "DejaVuSans-Bold.ttf", w), 40, rng).sum() for w in (0.7, 1.0, 1.4)}
    assert ink[0.7] < ink[1.0] < ink[1.4]


def test_two_line_training_samples_are_single_lines_of_the_plate(monkeypatch):
    from tools.synth import reader_data

    monkeypatch.setattr(reader_data, "STYLE_WEIGHTS", {"moto": 1.0})
    rng = np.random.default_rng(8)
    samples = [reader_data.synth_sample(rng, 32, 128, None) for _ in range(10)]
    for x, label in samples:
        assert x.shape == (32, 128) and x.dtype == np.uint8
        assert 3 <= len(label) <= 4  # the top three characters or the bottom three or four


def test_old_argentine_plates_get_the_tall_face_and_the_light_rim(monkeypatch):
    from tools.synth import plates

    def render(share: float, seed: int) -> np.ndarray:
        monkeypatch.setattr(plates, "AR_OLD_FACE_SHARE", share)
        img, text = render_plate("NKH496", "ar", np.random.default_rng(seed), height=100)
        assert text == "NKH496"
        return img.astype(np.float32).mean(axis=2)

    for seed in range(4):
        old = render(1.0, seed)
        # the raised rim is light all round the black plate
        w = old.shape[1]
        assert old[:, :2].mean() > 150 and old[-2:].mean() > 120 and np.median(old[10:90, w // 10 : -w // 10]) < 90
        # characters span most of the height: light ink in rows 30 % and 80 % of the plate
        assert old[30, 20:-20].max() > 180 and old[80, 20:-20].max() > 180
    monkeypatch.setattr(plates, "AR_OLD_FACE_SHARE", 0.0)
    kinds = []
    monkeypatch.setattr(plates, "choose_font", lambda *a, **k: kinds.append(1) or plates.FontSpec("stroke", "1"))
    render_plate("NKH496", "ar", np.random.default_rng(0))
    assert kinds == [1]  # with no share, the general fonts are chosen as before


def test_true_shape_old_argentine_plates_have_the_real_proportions_and_a_wide_rim(monkeypatch):
    from tools.synth import plates

    monkeypatch.setattr(plates, "AR_OLD_FACE_SHARE", 1.0)
    monkeypatch.setattr(plates, "AR_TRUE_SHAPE_SHARE", 1.0)
    for seed in range(4):
        img, text = render_plate("NKH496", "ar", np.random.default_rng(seed), height=129)
        assert text == "NKH496"
        h, w = img.shape[:2]
        assert 2.25 <= w / h <= 2.45  # 294-310 x 129 mm, not the widened 353 mm
        gray = img.astype(np.float32).mean(axis=2)
        # the rim (at least 8 mm) is light on all four sides, away from the fixing holes and slots
        assert gray[2:6, w // 4 : w // 2].mean() > 150 and gray[-6:-2, w // 4 : w // 2].mean() > 150
        assert gray[h // 4 : -h // 4, 2:6].mean() > 150 and gray[h // 4 : -h // 4, -6:-2].mean() > 150
        # characters fill most of the height inside the rim: light ink at 25 % and 75 % of the plate
        inner = gray[:, 20:-20]
        assert inner[h // 4].max() > 180 and inner[3 * h // 4].max() > 180
    monkeypatch.setattr(plates, "AR_TRUE_SHAPE_SHARE", 0.0)
    img, _ = render_plate("NKH496", "ar", np.random.default_rng(0), height=129)
    assert img.shape[1] / img.shape[0] > 2.6  # without the share, the wider layout as before


def test_old_argentine_field_can_end_just_beside_the_outer_characters(monkeypatch):
    from tools.synth import plates

    monkeypatch.setattr(plates, "AR_OLD_FACE_SHARE", 1.0)
    monkeypatch.setattr(plates, "AR_TRUE_SHAPE_SHARE", 0.0)  # the widened layout leaves room at the sides

    def dark_run_beside_ink(share: float, seed: int) -> int:
        """Columns (mm at this height) of dark field between the rim and the right-most ink, mid-height."""
        monkeypatch.setattr(plates, "AR_EDGE_HUG_SHARE", share)
        img, _ = render_plate("KRW300", "ar", np.random.default_rng(seed), height=129)  # a 0: upright sides
        row = img[img.shape[0] // 2].astype(np.float32).mean(axis=1)[::-1]  # from the right edge
        field = int(np.argmax(row < 130))  # the rim ends
        return int(np.argmax(row[field:] > 150))  # the ink begins

    hugged = [dark_run_beside_ink(1.0, seed) for seed in range(6)]
    free = [dark_run_beside_ink(0.0, seed) for seed in range(6)]
    assert max(hugged) <= 4 and min(free) > 5, (hugged, free)


def _plate_share(crop: np.ndarray) -> float:
    """Share of a crop of the all-white test plate on mid-grey that is plate."""
    return float((crop.min(axis=2) > 200).mean())


def test_a_tight_camera_crop_is_mostly_plate_and_keeps_its_shape():
    plate = np.full((60, 240, 3), 255, np.uint8)
    grey = np.full((300, 600, 3), 128, np.uint8)
    tight = [augment.camera_crop(plate, np.random.default_rng(s), out_height=40, strength=0, background=grey, tight=True)
             for s in range(30)]
    loose = [augment.camera_crop(plate, np.random.default_rng(s), out_height=40, strength=0, background=grey)
             for s in range(30)]
    assert min(_plate_share(c) for c in tight) > 0.75
    assert np.mean([_plate_share(c) for c in tight]) > np.mean([_plate_share(c) for c in loose]) + 0.15
    for c in tight:  # plate-to-crop aspect kept: 240/60 = 4 within the margin and skew
        assert 3.3 < c.shape[1] / c.shape[0] < 4.6


def test_only_old_format_argentine_samples_are_cropped_tight(monkeypatch):
    from tools.synth import reader_data

    seen: list[bool] = []
    real_crop = augment.camera_crop

    def spy(plate, rng, **kw):
        seen.append(kw["tight"])
        return real_crop(plate, rng, **kw)

    monkeypatch.setattr(reader_data.augment, "camera_crop", spy)
    monkeypatch.setattr(reader_data, "AR_TIGHT_SHARE", 1.0)
    rng = np.random.default_rng(3)
    for weights in ({"ar": 1.0}, {"br": 1.0}):
        for _ in range(12):
            _, text = reader_data.synth_sample(rng, 32, 128, None, style_weights=weights)
            assert seen.pop() == bool(re.fullmatch(r"[A-Z]{3}[0-9]{3}", text) and "ar" in weights), text
    monkeypatch.setattr(reader_data, "AR_TIGHT_SHARE", 0.0)
    for _ in range(8):
        reader_data.synth_sample(rng, 32, 128, None, style_weights={"ar": 1.0})
        assert seen.pop() is False


def test_light_text_share_tells_the_polarity_of_a_crop():
    from tools.synth.reader_data import light_text_share

    dark_on_light = np.full((32, 128), 210, np.uint8)
    dark_on_light[10:22, 20:30] = dark_on_light[10:22, 50:60] = dark_on_light[10:22, 80:90] = 30
    assert light_text_share([dark_on_light]) == 0.0
    assert light_text_share([255 - dark_on_light]) == 1.0
    assert light_text_share([dark_on_light, 255 - dark_on_light, 255 - dark_on_light]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no images"):
        light_text_share([])


def test_old_brazilian_samples_follow_the_red_share(monkeypatch):
    """Red plates with white characters make light-on-dark crops; the share follows BR_RED_SHARE."""
    from tools.synth import plates
    from tools.synth.reader_data import light_text_share, synth_sample

    def share(red: float) -> float:
        monkeypatch.setattr(plates, "BR_RED_SHARE", red)
        rng = np.random.default_rng(3)
        images = []
        while len(images) < 80:
            img, text = synth_sample(rng, 32, 128, None, style_weights={"br": 1.0})
            if plates.plate_shape(text) == "LLLDDDD":
                images.append(img)
        return light_text_share(images)

    shipped = plates.BR_RED_SHARE
    none, all_red = share(0.0), share(1.0)
    assert none < 0.4 < 0.6 < all_red  # infrared inversion flips some either way
    assert none < share(shipped) < all_red


@pytest.mark.parametrize("face", ["DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Bold.ttf", "DejaVuSerifCondensed-Bold.ttf"])
def test_tails_below_the_baseline_are_kept_so_j_and_q_stay_themselves(face):
    from tools.synth.text import FontSpec, text_mask

    rng = np.random.default_rng(0)
    j, i = (text_mask(ch, FontSpec("ttf", face), 60, rng) for ch in "JI")
    # the hook of the J: ink at the bottom left of its box, where an I (or a J cut at the baseline) has none
    assert j[-8:, : j.shape[1] // 4].max() > 0.5 and i.shape[1] < j.shape[1]
    q, o = (text_mask(ch, FontSpec("ttf", face), 60, rng) for ch in "QO")
    # a Q cut at the baseline is an O (mean difference below 0.01); standing on it, it keeps its tail
    assert np.abs(cv2.resize(q, (o.shape[1], o.shape[0])) - o).mean() > 0.05


def _right_band_blue(img: np.ndarray) -> float:
    """How much bluer than red the middle of the right-hand band's place is (0-255)."""
    h, w = img.shape[:2]
    patch = img[int(0.48 * h) : int(0.52 * h), int(0.93 * w) : int(0.98 * w)].astype(np.float32)
    return float(patch[..., 0].mean() - patch[..., 2].mean())


def test_band_style_always_draws_the_french_or_italian_right_hand_band(monkeypatch):
    from tools.synth import plates
    from tools.synth.reader_data import STYLE_WEIGHTS, parse_style_weights

    for seed in range(8):
        img, text = render_plate(style="band", rng=np.random.default_rng(seed), height=110)
        assert plate_shape(text) == "LLDDDLL"
        assert _right_band_blue(img) > 60, seed
    monkeypatch.setattr(plates, "RIGHT_BAND_SHARE", 0.0)
    plain, _ = render_plate("KX934PL", "eu", np.random.default_rng(11), height=110)  # a French layout
    assert _right_band_blue(plain) < 30
    monkeypatch.setattr(plates, "RIGHT_BAND_SHARE", 1.0)
    banded, _ = render_plate("KX934PL", "eu", np.random.default_rng(11), height=110)
    assert _right_band_blue(banded) > 60
    # drawn only when a fine-tune names it
    assert "band" not in STYLE_WEIGHTS and parse_style_weights("band=0.3")["band"] == 0.3
