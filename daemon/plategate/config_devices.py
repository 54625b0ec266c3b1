"""The configuration of the hardware: camera, relay, vehicle inputs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .config_base import GpioPin, PosFloat, PosInt, Section


class CameraConfig(Section):
    """Camera backend and streams."""

    backend: Literal["picamera2", "opencv", "replay"] = "picamera2"
    source: str = Field("", description="opencv: device index, /dev/videoN, RTSP URL or video file; replay: image folder or video file")
    width: PosInt = 1280
    height: PosInt = 720
    fps: PosFloat = 10.0
    lores_width: PosInt = 320
    lores_height: PosInt = 240
    exposure_max_us: PosInt = Field(2000, description="picamera2: longest exposure; short against motion blur at night")
    analogue_gain_max: PosFloat = 16.0
    index: Annotated[int, Field(ge=0, le=7)] = Field(0, description="picamera2: which camera (0, or 1 for the second "
                                                                   "CSI port of a Pi 5)")
    rotation: Literal[0, 180] = Field(0, description="picamera2: 180 for a camera mounted upside down")
    hflip: bool = Field(False, description="picamera2: mirror left-right")
    vflip: bool = Field(False, description="picamera2: mirror top-bottom")
    focus: Literal["default", "continuous", "auto", "manual"] = Field(
        "default", description="picamera2, Camera Module 3: continuous autofocus, auto (focus once at start), or "
                               "manual at lens_position; default: the camera's own")
    lens_position: Annotated[float, Field(ge=0, le=32)] | None = Field(
        None, description="focus = manual: lens position in dioptres (1 / distance in m; 0 = infinity, 0.25 = 4 m)")
    reopen_min_s: PosFloat = 1.0
    reopen_max_s: PosFloat = 30.0
    frame_timeout_s: PosFloat = 5.0
    loop: bool = Field(False, description="replay: start again at the end instead of stopping")
    realtime: bool = Field(True, description="replay: pace frames at fps")

    @model_validator(mode="after")
    def _check(self) -> CameraConfig:
        if self.backend in ("opencv", "replay") and not self.source:
            raise ValueError(f"source: required for backend {self.backend!r}")
        if self.lores_width > self.width or self.lores_height > self.height:
            raise ValueError("lores_width/lores_height: must not exceed width/height")
        if self.reopen_max_s < self.reopen_min_s:
            raise ValueError("reopen_max_s: must be at least reopen_min_s")
        if (self.focus == "manual") != (self.lens_position is not None):
            raise ValueError("lens_position: set it exactly when focus = \"manual\"")
        if self.backend != "picamera2":
            for key, default in (("index", 0), ("rotation", 0), ("hflip", False), ("vflip", False),
                                 ("focus", "default")):
                if getattr(self, key) != default:
                    raise ValueError(f"{key}: applies to the picamera2 backend only (backend is {self.backend!r})")
        return self


class RelayConfig(Section):
    """The barrier relay."""

    type: Literal["gpio", "serial", "none"] = "gpio"
    pin: GpioPin = 17
    active_high: bool = True
    mode: Literal["pulse", "hold"] = "pulse"
    pulse_ms: Annotated[int, Field(ge=50, le=60000)] = 500
    hold_max_s: PosFloat = Field(120.0, description="hold mode: release after this even if the vehicle stays")
    serial_port: str = Field("", description="serial relay board: /dev/ttyUSB0, or loop:// for tests")
    serial_baudrate: PosInt = 9600
    serial_open: str = Field("A00101A2", description="hex bytes that energise the relay")
    serial_close: str = Field("A00100A1", description="hex bytes that de-energise it")

    @field_validator("serial_open", "serial_close")
    @classmethod
    def _hex(cls, value: str) -> str:
        try:
            bytes.fromhex(value)
        except ValueError as exc:
            raise ValueError(f"not hex bytes: {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _serial(self) -> RelayConfig:
        if self.type == "serial" and not self.serial_port:
            raise ValueError("serial_port: required when type is 'serial'")
        return self


class InputConfig(Section):
    """A digital input (loop detector, photo-eye)."""

    enabled: bool = False
    pin: GpioPin
    pull: Literal["up", "down", "none"] = Field("up", description="up: contact to ground, active low; down: active high")
    active_high: bool = Field(False, description="only with pull = \"none\" (external pull resistor)")
    bounce_ms: Annotated[int, Field(ge=0, le=5000)] = 50
    triggers_capture: bool = True

    @model_validator(mode="after")
    def _polarity(self) -> InputConfig:
        if self.pull == "up" and self.active_high:
            raise ValueError("active_high: a pulled-up input is active low; use pull = \"down\" or \"none\"")
        if self.pull == "down":
            self.active_high = True
        return self


class LoopDetectorConfig(InputConfig):
    """The loop detector input (wiring.md: GPIO 27); it triggers a capture by default."""

    pin: GpioPin = 27


class PhotoEyeConfig(InputConfig):
    """The photo-eye input (wiring.md: GPIO 22); it only keeps the gate from closing by default."""

    pin: GpioPin = 22
    triggers_capture: bool = False


class GateConfig(Section):
    """Relay, inputs and pin factory."""

    pin_factory: Literal["auto", "mock", "lgpio", "rpigpio", "native"] = "auto"
    relay: RelayConfig = RelayConfig()
    loop_detector: LoopDetectorConfig = LoopDetectorConfig()
    photo_eye: PhotoEyeConfig = PhotoEyeConfig()

    @model_validator(mode="after")
    def _hold_needs_input(self) -> GateConfig:
        if self.relay.mode == "hold" and not (self.loop_detector.enabled or self.photo_eye.enabled):
            raise ValueError("relay.mode: 'hold' needs an enabled loop_detector or photo_eye")
        return self
