"""The ``[camera]`` orientation and focus settings as picamera2 / libcamera wants them.

Pure functions (no picamera2 import), so that the mapping is checked anywhere:

* orientation: libcamera's ``Transform(hflip, vflip)``; a rotation of 180 degrees is both
  flips (libcamera cannot rotate by 90 degrees);
* focus (Camera Module 3): the ``AfMode`` control (0 manual, 1 auto, 2 continuous, the
  values of ``libcamera.controls.AfModeEnum``) and, for manual, ``LensPosition`` in
  dioptres; ``auto`` also triggers one scan at start (``AfTrigger`` 0 = start).
"""

from __future__ import annotations

AF_MODES = {"manual": 0, "auto": 1, "continuous": 2}
AF_TRIGGER_START = 0


def transform_flags(rotation: int, hflip: bool, vflip: bool) -> dict[str, bool]:
    """``{"hflip", "vflip"}`` for libcamera's Transform: the flips, with 180 degrees as both flipped."""
    if rotation not in (0, 180):
        raise ValueError(f"rotation {rotation}: only 0 or 180 (libcamera cannot rotate by 90 degrees)")
    turn = rotation == 180
    return {"hflip": bool(hflip) != turn, "vflip": bool(vflip) != turn}


def focus_controls(focus: str, lens_position: float | None) -> dict[str, float | int]:
    """The libcamera controls for the ``focus`` setting (empty for ``default``)."""
    if focus == "default":
        return {}
    if focus not in AF_MODES:
        raise ValueError(f"focus {focus!r}: one of default, continuous, auto, manual")
    controls: dict[str, float | int] = {"AfMode": AF_MODES[focus]}
    if focus == "manual":
        if lens_position is None:
            raise ValueError("focus manual needs lens_position")
        controls["LensPosition"] = float(lens_position)
    elif focus == "auto":
        controls["AfTrigger"] = AF_TRIGGER_START
    return controls


def describe(cfg) -> str:
    """One line for the log and ``--check-config``: index, orientation and focus of a ``[camera]``."""
    flags = transform_flags(cfg.rotation, cfg.hflip, cfg.vflip)
    orient = "+".join(k for k, v in flags.items() if v) or "no flip"
    focus = cfg.focus if cfg.focus != "manual" else f"manual at {cfg.lens_position:g} dioptres"
    return f"camera {cfg.index}, {orient}, focus {focus}"
