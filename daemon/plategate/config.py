"""The one configuration schema, loaded from TOML.

Every section is a pydantic model with ``extra="forbid"`` so that a misspelt key is
an error, not a silently ignored setting. :func:`load_config` turns pydantic's
errors into one :class:`~plategate.errors.ConfigError` whose message lists each
problem as ``key.path: what is wrong``.

Relative paths in a config file are resolved against the file's own folder, so
``config/demo.toml`` can name ``../models/reader.tflite`` and work from any
working directory.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .lane_config import LaneConfig
from .validation import describe

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
GpioPin = Annotated[int | str, Field(description="BCM number (17) or a gpiozero pin name ('GPIO17', 'BOARD11')")]
#: the most views of a crop the reader can pool (``len(plategate.vision.reader.VIEW_MARGINS)``,
#: which a test keeps equal; written here so that loading a config does not import OpenCV)
MAX_READER_VIEWS = 3


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _package_root() -> Path:
    return Path(__file__).resolve().parent


def default_models_dir() -> Path:
    """Where the shipped models live: the source tree's ``models/`` or the installed copy."""
    candidates = [
        _package_root().parent.parent / "models",  # source checkout / editable install
        Path(sys.prefix) / "share" / "plategate" / "models",  # pip install .
        Path("/usr/share/plategate/models"),
    ]
    for cand in candidates:
        if (cand / "reader.tflite").exists() or (cand / "detector.tflite").exists():
            return cand
    return candidates[0]


class Roi(_Section):
    """A region of interest as fractions of the frame (0..1)."""

    x1: Fraction = 0.0
    y1: Fraction = 0.0
    x2: Fraction = 1.0
    y2: Fraction = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Roi:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError("x2 must be greater than x1 and y2 greater than y1")
        return self


class CameraConfig(_Section):
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


class MotionConfig(_Section):
    """Motion trigger on the lores stream."""

    enabled: bool = True
    roi: Roi = Roi()
    threshold: Annotated[int, Field(ge=1, le=255)] = 25
    min_area: Annotated[float, Field(gt=0, le=1)] = 0.01
    blur: Annotated[int, Field(ge=0, le=15)] = 1
    background_alpha: Annotated[float, Field(gt=0, le=1)] = 0.1
    cooldown_s: Annotated[float, Field(ge=0)] = 1.0
    burst_frames: Annotated[int, Field(ge=1, le=30)] = 3
    burst_interval_ms: Annotated[int, Field(ge=0)] = 80


class RecognitionConfig(_Section):
    """Detector, reader and voting."""

    detector_model: Path | None = Field(None, description="default: the shipped models/detector.tflite")
    reader_model: Path | None = Field(None, description="default: the shipped models/reader.tflite")
    threads: Annotated[int, Field(ge=1, le=8)] = 2
    roi: Roi = Roi()
    min_detection_score: Fraction = 0.55
    close_up: bool = Field(True, description="when a frame gives no plate, search it again shrunk to 40 %: finds "
                                            "plates filling half the frame or more (a camera close to the car)")
    max_plates: Annotated[int, Field(ge=1, le=10)] = 3
    plate_formats: list[Annotated[str, Field(pattern=r"^[LD]{1,10}$")]] = Field(
        default_factory=list,
        description="the site's plate formats as L (letter) / D (digit) strings, e.g. [\"LLDDLLL\"] for the UK; "
                    "reads are constrained to them (empty: any text)")
    reader_views: Annotated[int, Field(ge=1, le=MAX_READER_VIEWS)] = Field(
        3, description="views of each plate crop the reader reads: 1 = the crop as given (fastest); 2 or 3 = when "
                       "that read is below 0.9, also the crop padded (and trimmed), candidates pooled: more plates "
                       "read right, up to 2 or 3 times the read time on unsure crops")
    vote_confidence: Fraction = Field(0.9, description="decide before the burst ends once the vote reaches this")
    queue_size: Annotated[int, Field(ge=1, le=64)] = 4

    def detector_path(self) -> Path:
        return self.detector_model or default_models_dir() / "detector.tflite"

    def reader_path(self) -> Path:
        return self.reader_model or default_models_dir() / "reader.tflite"


class AccessConfig(_Section):
    """Access policy and the local allowlist."""

    allowlist_file: Path | None = Field(None, description="CSV plate,label[,kind] loaded at start and on SIGHUP")
    database: Path | None = Field(None, description="SQLite allowlist store; default <state_dir>/access.db")
    timezone: str = "UTC"
    min_confidence: Fraction = Field(0.6, description="reads below this are decided 'unknown'")
    tolerant_match: bool = True
    tolerant_min_confidence: Fraction = 0.85
    holdoff_s: Annotated[float, Field(ge=0)] = 30.0

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class RelayConfig(_Section):
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


class InputConfig(_Section):
    """A digital input (loop detector, photo-eye)."""

    enabled: bool = False
    pin: GpioPin = 27
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


class GateConfig(_Section):
    """Relay, inputs and pin factory."""

    pin_factory: Literal["auto", "mock", "lgpio", "rpigpio", "native"] = "auto"
    relay: RelayConfig = RelayConfig()
    loop_detector: InputConfig = InputConfig(pin=27)
    photo_eye: InputConfig = InputConfig(pin=22, triggers_capture=False)

    @model_validator(mode="after")
    def _hold_needs_input(self) -> GateConfig:
        if self.relay.mode == "hold" and not (self.loop_detector.enabled or self.photo_eye.enabled):
            raise ValueError("relay.mode: 'hold' needs an enabled loop_detector or photo_eye")
        return self


class JournalConfig(_Section):
    """Event journal and snapshots."""

    database: Path | None = Field(None, description="default <state_dir>/journal.db")
    snapshot_dir: Path | None = Field(None, description="default <state_dir>/snapshots")
    snapshots: bool = True
    save_frames: bool = True
    retention_days: Annotated[float, Field(gt=0)] = 30
    max_snapshot_mb: PosInt = 500
    min_free_mb: Annotated[int, Field(ge=0)] = 200
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 85


class TlsConfig(_Section):
    """TLS to the broker: the table's presence switches it on (docs/mqtt.md, "TLS")."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file: needs cert_file (the client certificate the key belongs to)")
        return self


class MqttConfig(_Section):
    """Broker connection, topics and signed sync."""

    enabled: bool = False
    host: str = "localhost"
    port: Annotated[int, Field(gt=0, lt=65536)] = 1883
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    password_file: Path | None = Field(None, description="read the password from this file (first line) instead of 'password'")
    tls: TlsConfig | None = None
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30
    topic_prefix: str = "plategate"
    reconnect_min_s: PosFloat = 1.0
    reconnect_max_s: PosFloat = 60.0
    outbox: Path | None = Field(None, description="default <state_dir>/outbox.db")
    outbox_max_mb: PosInt = 200
    site_public_keys: list[str] = Field(default_factory=list, description="Ed25519 public keys (base64 raw or PEM file paths)")
    command_max_age_s: PosInt = 60
    allow_unsigned_commands: bool = Field(False, description="only for a trusted local broker")
    homeassistant: bool = False
    homeassistant_prefix: str = "homeassistant"
    max_snapshot_bytes: PosInt = Field(64 * 1024 * 1024, description="largest signed allowlist snapshot or delta accepted")
    max_command_bytes: PosInt = Field(16 * 1024, description="largest command payload accepted")
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = Field(200, description="outbox messages handed to the client before acknowledgement")
    snapshot_request_interval_s: PosFloat = Field(30.0, description="at most one allowlist/request per this interval")
    clean_session: bool = Field(False, description="False: the broker keeps deltas and commands for the gate while it is offline")
    status_interval_s: Annotated[float, Field(ge=0)] = Field(60.0, description="republish the retained status this often (0 = only on change)")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\x00") or value.startswith("/") or value.endswith("/"):
            raise ValueError(f"invalid topic prefix {value!r} (no wildcards, no leading/trailing '/')")
        return value


class ControlConfig(_Section):
    """Local control socket for platectl."""

    socket: Path = Path("/run/plategate/control.sock")
    group: str | None = "plategate"


class PlategateConfig(_Section):
    """The whole configuration file."""

    site_id: str = Field("site", pattern=r"^[A-Za-z0-9_-]+$", description="MQTT topic level <site>")
    gate_id: str = Field("gate", pattern=r"^[A-Za-z0-9_-]+$", description="MQTT topic level <gate>")
    state_dir: Path = Path("/var/lib/plategate")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    watchdog: bool = True
    camera: CameraConfig = CameraConfig()
    motion: MotionConfig = MotionConfig()
    recognition: RecognitionConfig = RecognitionConfig()
    access: AccessConfig = AccessConfig()
    gate: GateConfig = GateConfig()
    journal: JournalConfig = JournalConfig()
    mqtt: MqttConfig = MqttConfig()
    lane: LaneConfig = LaneConfig()
    control: ControlConfig = ControlConfig()

    # Derived paths -----------------------------------------------------
    def journal_db(self) -> Path:
        return self.journal.database or self.state_dir / "journal.db"

    def snapshot_dir(self) -> Path:
        return self.journal.snapshot_dir or self.state_dir / "snapshots"

    def access_db(self) -> Path:
        return self.access.database or self.state_dir / "access.db"

    def outbox_db(self) -> Path:
        return self.mqtt.outbox or self.state_dir / "outbox.db"


_PATH_KEYS = (
    ("state_dir",),
    ("recognition", "detector_model"),
    ("recognition", "reader_model"),
    ("access", "allowlist_file"),
    ("access", "database"),
    ("journal", "database"),
    ("journal", "snapshot_dir"),
    ("mqtt", "outbox"),
    ("mqtt", "password_file"),
    ("mqtt", "tls", "ca_file"),
    ("mqtt", "tls", "cert_file"),
    ("mqtt", "tls", "key_file"),
    ("control", "socket"),
    ("lane", "presence_db"),
)


def _resolve_relative(data: dict, base: Path) -> None:
    """Make relative path values in the raw TOML dict absolute against *base*, in place."""
    for key_path in _PATH_KEYS:
        node = data
        for key in key_path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if not isinstance(node, dict):
            continue
        value = node.get(key_path[-1])
        if isinstance(value, str) and value and not os.path.isabs(value) and "://" not in value:
            node[key_path[-1]] = str((base / value).resolve())
    camera = data.get("camera")
    if isinstance(camera, dict) and camera.get("backend") == "replay":
        src = camera.get("source")
        if isinstance(src, str) and src and not os.path.isabs(src):
            camera["source"] = str((base / src).resolve())


def parse_config(data: dict, source: str = "<config>") -> PlategateConfig:
    """Validate a raw dict (parsed TOML) against the schema.

    Raises:
        ConfigError: listing every problem as ``key.path: problem``.
    """
    try:
        return PlategateConfig.model_validate(data)
    except ValidationError as exc:
        lines = [describe(e) for e in exc.errors()]
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(lines)) from None


def load_config(path: str | os.PathLike | None) -> PlategateConfig:
    """Load and validate a TOML config file; ``None`` gives the embedded defaults.

    Raises:
        ConfigError: the file cannot be read, is not valid TOML, or breaks the schema.
    """
    if path is None:
        return parse_config({}, "<defaults>")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    _resolve_relative(data, p.resolve().parent)
    return parse_config(data, str(p))
