"""The checks behind ``platectl diag``: each ``check_x(ctx) -> list[Result]``, never raising for
what it finds (a missing file, a refused connection): that is a FAIL line with a hint."""

from __future__ import annotations

import argparse
import contextlib
import enum
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..config import PlategateConfig, load_config
from ..control_client import DaemonNotRunning
from ..errors import PlategateError
from . import common, hostinfo
from .mqttprobe import mqtt_round_trip

MIN_PLAUSIBLE_YEAR = 2025


class Status(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass
class Result:
    name: str
    status: Status
    message: str
    hint: str = ""


@dataclass
class Context:
    """What the checks share: the parsed arguments, the config and the daemon's status."""

    args: argparse.Namespace
    cfg: PlategateConfig | None = None
    daemon_status: dict | None = None
    notes: dict = field(default_factory=dict)


def check_config(ctx: Context) -> list[Result]:
    path = common.config_path(ctx.args)
    try:
        ctx.cfg = load_config(path)
    except PlategateError as exc:
        lines = str(exc).splitlines()
        more = f" (+{len(lines) - 2} more)" if len(lines) > 2 else ""
        detail = lines[1].strip() if len(lines) > 1 else lines[0]
        return [Result("config", Status.FAIL, f"{path}: {detail}{more}" if len(lines) > 1 else detail,
                       "fix the key named; every key is in docs/configuration.md")]
    if path is None:
        return [Result("config", Status.WARN, "no config file: using the built-in defaults",
                       "install /etc/plategate/plategate.toml (tools/install.sh does) or pass --config")]
    ctx.args._cfg = ctx.cfg
    return [Result("config", Status.PASS, f"{path} is valid")]


def check_daemon(ctx: Context) -> list[Result]:
    try:
        client = common.client(ctx.args, timeout=5)
        status = client.call("status")
    except DaemonNotRunning as exc:
        return [Result("daemon", Status.WARN, str(exc),
                       "systemctl status plategate; journalctl -u plategate -e (diag opens the devices itself)")]
    except PlategateError as exc:
        return [Result("daemon", Status.FAIL, str(exc), "run platectl as root or as a member of the plategate group")]
    ctx.daemon_status = status if isinstance(status, dict) else {}
    state = ctx.daemon_status.get("state", "running")
    up = ctx.daemon_status.get("uptime_s")
    return [Result("daemon", Status.PASS, f"plategated answers: state {state}"
                   + (f", up {int(up)} s" if isinstance(up, int | float) else ""))]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a moment (C++ log lines; Python errors still raise)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_one_model(name: str, path: Path, threads: int) -> Result:
    """Load one model with the runtime (which verifies its card's sha256)."""
    hint = "reinstall the models (pip install . puts them in <venv>/share/plategate/models) or fix recognition." \
           f"{name.replace(' ', '_')}_model"
    if not path.exists():
        return Result("models", Status.FAIL, f"{name}: missing file {path}", hint)
    try:
        from ..vision.runtime import load_model
    except ImportError as exc:
        card = path.with_suffix(".json")
        try:
            expected = json.loads(card.read_text()).get("sha256")
        except (OSError, ValueError):
            expected = None
        actual = _sha256(path)
        if expected and expected != actual:
            return Result("models", Status.FAIL, f"{name}: {path.name}: sha256 {actual[:12]} does not match its card "
                          f"({str(expected)[:12]})", hint)
        return Result("models", Status.WARN, f"{name}: {path.name}: file present (sha256 {actual[:12]}) but the model "
                      f"runtime is not importable: {exc}", "pip install ai-edge-litert (or tflite-runtime)")
    try:
        with _native_stderr_silenced():  # LiteRT prints "Created TensorFlow Lite XNNPACK delegate" on fd 2
            loaded = load_model(path, threads)
    except PlategateError as exc:
        return Result("models", Status.FAIL, f"{name}: {exc}", hint)
    except Exception as exc:  # a broken LiteRT install, an unexpected file
        return Result("models", Status.FAIL, f"{name}: {path}: cannot load: {type(exc).__name__}: {exc}", hint)
    card = getattr(loaded, "card", None)
    sha = getattr(card, "sha256", None) or _sha256(path)
    return Result("models", Status.PASS, f"{name}: {path.name} loads, sha256 {str(sha)[:12]} matches its card")


def check_models(ctx: Context) -> list[Result]:
    rec = ctx.cfg.recognition
    return [check_one_model(key.split(".")[1].removesuffix("_model").replace("_", " "), path, 1)
            for key, path in rec.model_paths()]


def _fps_result(fps: float, want: float, how: str) -> Result:
    if fps <= 0:
        return Result("camera", Status.FAIL, f"no frames ({how})", "check the cable/ribbon, camera.source, dmesg")
    if fps < 0.8 * want:
        return Result("camera", Status.WARN, f"{fps:.1f} fps of {want:g} configured ({how})",
                      "lower camera.width/height or fps, shorten camera.exposure_max_us, check CPU load")
    return Result("camera", Status.PASS, f"{fps:.1f} fps (configured {want:g}; {how})")


def check_camera(ctx: Context) -> list[Result]:
    cam = ctx.cfg.camera
    if ctx.daemon_status is not None:
        fps = common.lookup(ctx.daemon_status, "camera.fps", "health.camera.fps")
        if fps is None:
            return [Result("camera", Status.WARN, "in use by plategated, which reports no frame rate",
                           "platectl status; or stop the daemon and run diag again")]
        error = common.lookup(ctx.daemon_status, "camera.error", "health.camera.error")
        result = _fps_result(float(fps), cam.fps, "measured by plategated")
        if error and result.status == Status.FAIL:
            result.message += f": {error}"
        return [result]
    hint = {"picamera2": "check the ribbon cable and `rpicam-hello --list-cameras`; "
                         "the venv needs --system-site-packages for python3-picamera2",
            "opencv": "check camera.source (device, URL or file) and the video group",
            "replay": "check camera.source (an image folder or a video file)"}[cam.backend]
    try:
        from ..camera import create_camera

        camera = create_camera(cam)
        camera.start()
    except ImportError as exc:
        return [Result("camera", Status.FAIL, f"{cam.backend} backend unavailable: {exc}", hint)]
    except PlategateError as exc:
        return [Result("camera", Status.FAIL, str(exc), hint)]
    except Exception as exc:
        return [Result("camera", Status.FAIL, f"{cam.backend}: {type(exc).__name__}: {exc}", hint)]
    times: list[float] = []
    size = None
    try:
        end = time.monotonic() + ctx.args.camera_seconds
        while time.monotonic() < end:
            pair = camera.grab(timeout=min(cam.frame_timeout_s, max(ctx.args.camera_seconds, 0.5)))
            if pair is None:
                break
            times.append(time.monotonic())
            if size is None:
                size = pair.main().shape
    except PlategateError as exc:
        if not times:
            return [Result("camera", Status.FAIL, f"opened but no frame: {exc}", hint)]
    finally:
        camera.stop()
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    if len(times) == 1:
        return [Result("camera", Status.WARN, "only one frame arrived", hint)]
    result = _fps_result(fps, cam.fps, f"{len(times)} frames in {ctx.args.camera_seconds:g} s")
    if size is not None and result.status != Status.FAIL:
        result.message += f", {size[1]}x{size[0]}"
    return [result]


def check_inputs(ctx: Context) -> list[Result]:
    gate = ctx.cfg.gate
    names = [n for n in ("loop_detector", "photo_eye") if getattr(gate, n).enabled]
    if not names:
        return [Result("inputs", Status.PASS, "no loop detector or photo-eye enabled")]
    if ctx.daemon_status is not None:
        states = common.lookup(ctx.daemon_status, "inputs", "gate.inputs")
        if isinstance(states, dict):
            text = ", ".join(f"{k} {'ACTIVE' if v else 'clear'}" for k, v in states.items())
            if str(ctx.daemon_status.get("pin_factory", "")).startswith("mock"):
                return [Result("inputs", Status.WARN, f"{text} (from plategated, on MOCK pins: no real input is read)",
                               'set gate.pin_factory = "auto" (or lgpio) on the Pi')]
            return [Result("inputs", Status.PASS, f"{text} (from plategated)")]
        return [Result("inputs", Status.WARN, "in use by plategated, which reports no input states", "platectl status")]
    hint = "check gate.pin_factory (lgpio on a Pi; \"mock\" off a Pi), the pin numbers and the gpio group"
    try:
        from ..gate.inputs import create_inputs
        from ..gate.pins import make_pin_factory

        factory = make_pin_factory(gate.pin_factory)
    except (PlategateError, ImportError) as exc:
        return [Result("inputs", Status.FAIL, str(exc), hint)]
    try:
        inputs = create_inputs(gate, factory)
        try:
            states = {name: dev.is_active for name, dev in inputs.items()}
        finally:
            for dev in inputs.values():
                dev.close()
    except PlategateError as exc:
        return [Result("inputs", Status.FAIL, str(exc), hint)]
    finally:
        factory.close()
    text = ", ".join(f"{name} (pin {getattr(gate, name).pin}) {'ACTIVE' if on else 'clear'}"
                     for name, on in states.items())
    if gate.pin_factory == "mock":
        return [Result("inputs", Status.WARN, f"{text} on MOCK pins: no real input is read",
                       'set gate.pin_factory = "auto" (or lgpio) on the Pi')]
    return [Result("inputs", Status.PASS, text)]


def check_relay(ctx: Context) -> list[Result]:
    relay = ctx.cfg.gate.relay
    if relay.type == "none":
        return [Result("relay", Status.WARN, "gate.relay.type is 'none': the gate is never opened",
                       "set gate.relay.type to gpio or serial")]
    if ctx.daemon_status is not None:
        pins = ctx.daemon_status.get("pin_factory")
        mock = " on MOCK pins: nothing is switched" if pins and str(pins).startswith("mock") else ""
        return [Result("relay", Status.WARN if mock else Status.PASS,
                       f"{relay.type} relay driven by plategated{mock} (platectl test-relay --confirm to hear it click)",
                       'set gate.pin_factory = "auto" (or lgpio) on the Pi' if mock else "")]
    hint = "platectl test-relay --confirm pulses it; check wiring in docs/wiring.md"
    factory = None
    try:
        from ..gate.pins import make_pin_factory
        from ..gate.relay import create_relay

        if relay.type == "gpio":
            factory = make_pin_factory(ctx.cfg.gate.pin_factory)
        device = create_relay(relay, factory)
        device.close()
    except (PlategateError, ImportError) as exc:
        return [Result("relay", Status.FAIL, str(exc), hint)]
    finally:
        if factory is not None:
            factory.close()
    where = f"GPIO {relay.pin}" if relay.type == "gpio" else f"serial {relay.serial_port}"
    if relay.type == "gpio" and ctx.cfg.gate.pin_factory == "mock":
        return [Result("relay", Status.WARN, f"{where} on MOCK pins (gate.pin_factory = \"mock\"): nothing is "
                       "switched", 'set gate.pin_factory = "auto" (or lgpio) on the Pi')]
    return [Result("relay", Status.PASS, f"{where} opens and is de-energised (not pulsed)", hint)]


def check_mqtt(ctx: Context) -> list[Result]:
    m = ctx.cfg.mqtt
    if not m.enabled:
        return [Result("mqtt", Status.WARN, "disabled (mqtt.enabled = false): events stay local, no allowlist sync",
                       "set [mqtt] enabled = true and host/port to report events")]
    ok, message = mqtt_round_trip(ctx.cfg, ctx.args.mqtt_timeout)
    if ok:
        extra = ""
        if ctx.daemon_status is not None:
            conn = common.lookup(ctx.daemon_status, "mqtt.connected")
            depth = common.lookup(ctx.daemon_status, "mqtt.outbox_depth")
            if conn is False:
                return [Result("mqtt", Status.WARN, message + "; but plategated is NOT connected",
                               "journalctl -u plategate -e; check mqtt credentials/TLS")]
            if depth is not None:
                extra = f"; daemon outbox {depth}"
        return [Result("mqtt", Status.PASS, message + extra)]
    return [Result("mqtt", Status.FAIL, message,
                   "check mqtt.host/port, that the broker runs (systemctl status mosquitto), firewall, credentials")]


def check_files(ctx: Context) -> list[Result]:
    from .filecheck import named_files, problems, service_identity

    found = problems(ctx.cfg, service_identity())
    if not found:
        return [Result("files", Status.PASS, f"{len(named_files(ctx.cfg))} files named in the config are readable")]
    hint = "keep them in /etc/plategate, group plategate, mode 0640 (the service cannot see /home)"
    return [Result("files", Status(sev), text, hint) for sev, text in found]


def check_disk(ctx: Context) -> list[Result]:
    state = Path(ctx.cfg.state_dir)
    probe = state
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_mb = usage.free / 1e6
    need = ctx.cfg.journal.min_free_mb
    text = f"{free_mb:.0f} MB free of {usage.total / 1e6:.0f} MB at {probe}"
    if free_mb < need:
        return [Result("disk", Status.FAIL, f"{text}, below journal.min_free_mb {need}: snapshots are skipped",
                       "free space (old snapshots, logs) or lower journal.retention_days / max_snapshot_mb")]
    if not state.exists():
        return [Result("disk", Status.WARN, f"{text}; state_dir {state} does not exist yet",
                       "systemd creates it (StateDirectory=plategate) when the service starts")]
    if free_mb < 2 * need + ctx.cfg.journal.max_snapshot_mb:
        return [Result("disk", Status.WARN, f"{text}: little room for snapshots",
                       "lower journal.max_snapshot_mb or use a larger SD card")]
    return [Result("disk", Status.PASS, text)]


def check_clock(ctx: Context) -> list[Result]:
    now = datetime.now().astimezone()
    when = now.strftime("%Y-%m-%d %H:%M:%S %Z")
    if now.year < MIN_PLAUSIBLE_YEAR:
        return [Result("clock", Status.FAIL, f"clock reads {when}: not set",
                       "connect the network for NTP (timedatectl set-ntp true) or fit an RTC")]
    synced, how = hostinfo.clock_synchronised()
    if synced is None:
        return [Result("clock", Status.WARN, f"{when}; synchronisation unknown",
                       "check timedatectl; time windows and event times rely on the clock")]
    if not synced:
        return [Result("clock", Status.FAIL, f"{when}; NOT synchronised ({how})",
                       "timedatectl set-ntp true; check network/NTP server; a Pi has no RTC, "
                       "so time windows are wrong until it syncs")]
    return [Result("clock", Status.PASS, f"{when}; synchronised ({how})")]


def check_host(ctx: Context) -> list[Result]:
    temp = hostinfo.cpu_temperature()
    throttle = hostinfo.throttled()
    if temp is None and throttle is None:
        return [Result("host", Status.PASS, "no temperature or throttling data on this machine")]
    text = f"CPU {temp:.1f} C" if temp is not None else "CPU temperature unknown"
    if throttle and throttle["now"]:
        return [Result("host", Status.WARN, f"{text}; {', '.join(throttle['now'])}",
                       "use the official power supply; add a heatsink or fan; shade the enclosure")]
    if temp is not None and temp >= 80:
        return [Result("host", Status.WARN, f"{text}: hot", "add a heatsink or fan; shade the enclosure")]
    if throttle and throttle["past"]:
        return [Result("host", Status.WARN, f"{text}; since boot: {', '.join(throttle['past'])}",
                       "check the power supply (under-voltage) and cooling")]
    return [Result("host", Status.PASS, text + ("; not throttled" if throttle is not None else ""))]


