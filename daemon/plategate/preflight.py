"""What starting needs beyond a valid schema, checked without touching hardware.

``plategated --check-config`` runs :func:`preflight` after the schema: pin names valid and
no GPIO used twice, site public keys that parse, model files present, matching their cards
and loadable, the allowlist file present and well-formed, state paths (and the lanes'
shared ``lane.presence_db``) writable, the replay source, serial port, MQTT password and
TLS files and webhook secret files present. Each problem is one line
``key.path: what is wrong``. :func:`warnings` lists what a start survives but an installer
wants to know (the control socket's group missing: the daemon runs, platectl cannot reach
it). No pin is driven, no port opened, no broker contacted and nothing is created.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

from .config import PlategateConfig
from .errors import PlategateError


def preflight(cfg: PlategateConfig, load_models: bool = True) -> list[str]:
    """Every problem that would stop (or cripple) a start, as ``key.path: problem`` lines."""
    problems: list[str] = []
    for check in (_pins, _keys, _allowlist_file, _state_paths, _camera, _serial, _mqtt_files, _webhook_files):
        problems += check(cfg)
    problems += _models(cfg, load_models)
    return problems


def report(cfg: PlategateConfig, source: str) -> int:
    """``plategated --check-config``: print warnings and problems; 0 when it can start, else 2."""
    for line in warnings(cfg):
        print(f"plategated: warning: {line}", file=sys.stderr)
    problems = preflight(cfg)
    if problems:
        print(f"plategated: {source}: cannot start:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    print(f"{source}: configuration is valid (schema, pins, keys, models, files, paths)")
    if cfg.camera.backend == "picamera2":
        from .camera.controls import describe

        print(f"  {describe(cfg.camera)}")
    return 0


def _pins(cfg: PlategateConfig) -> list[str]:
    from gpiozero.exc import GPIOZeroError
    from gpiozero.pins.mock import MockFactory

    gate = cfg.gate
    used: list[tuple[str, object]] = []
    if gate.relay.type == "gpio":
        used.append(("gate.relay.pin", gate.relay.pin))
    for name in ("loop_detector", "photo_eye"):
        section = getattr(gate, name)
        if section.enabled:
            used.append((f"gate.{name}.pin", section.pin))
    problems: list[str] = []
    factory = MockFactory()  # resolves names ('BOARD11', 'GPIO17', 17) to GPIO numbers; drives nothing
    owners: dict[str, str] = {}
    try:
        for key, spec in used:
            try:
                gpio = factory.pin(spec).info.name
            except (GPIOZeroError, ValueError) as exc:
                problems.append(f"{key}: {spec!r} is not a GPIO pin of the 40-pin header ({exc})")
                continue
            if gpio in owners:
                problems.append(f"{key}: {gpio} is already {owners[gpio]} (each input and the relay need their own pin)")
            else:
                owners[gpio] = key
    finally:
        factory.close()
    return problems


def _keys(cfg: PlategateConfig) -> list[str]:
    from .mqtt.signing import parse_public_key

    problems = []
    for i, spec in enumerate(cfg.mqtt.site_public_keys):
        try:
            parse_public_key(spec)
        except PlategateError as exc:
            problems.append(f"mqtt.site_public_keys[{i}]: {exc}")
    return problems


def _models(cfg: PlategateConfig, load: bool) -> list[str]:
    from .vision.runtime import load_model, verify

    problems = []
    rec = cfg.recognition
    for key, path in rec.model_paths():
        try:
            if load:
                load_model(path, 1)
            else:
                verify(path)
        except PlategateError as exc:
            problems.append(f"{key}: {exc}")
        except Exception as exc:  # a broken runtime install: starting would fail the same way
            problems.append(f"{key}: {path} cannot be loaded: {type(exc).__name__}: {exc}")
    return problems


def _allowlist_file(cfg: PlategateConfig) -> list[str]:
    path = cfg.access.allowlist_file
    if path is None:
        return []
    from .access.io import read_csv, read_json

    try:
        (read_json if path.suffix.lower() == ".json" else read_csv)(path)
    except PlategateError as exc:
        return [f"access.allowlist_file: {exc}"]
    return []


def _writable_dir(key: str, folder: Path) -> list[str]:
    """*folder* is a writable directory, or can be created in the nearest one that exists."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return [f"{key}: {probe} is not a directory"]
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is not writable" if probe == folder else f"cannot be created: {probe} is not writable"
        return [f"{key}: {folder} {what} for this user (uid {os.geteuid()})"]
    return []


def _state_paths(cfg: PlategateConfig) -> list[str]:
    places = [("state_dir", cfg.state_dir), ("journal.database", cfg.journal_db().parent),
              ("journal.snapshot_dir", cfg.snapshot_dir()), ("access.database", cfg.access_db().parent),
              ("control.socket", cfg.control.socket.parent)]
    if cfg.mqtt.enabled:
        places.append(("mqtt.outbox", cfg.outbox_db().parent))
    if cfg.lane.presence_db is not None:
        places.append(("lane.presence_db", cfg.lane.presence_db.parent))
    problems = []
    for key, folder in places:
        problems += _writable_dir(key, Path(folder))
    dbs = [("journal.database", cfg.journal_db()), ("access.database", cfg.access_db())]
    if cfg.lane.presence_db is not None:
        dbs.append(("lane.presence_db", cfg.lane.presence_db))
    for key, db in dbs:
        if db.exists() and not os.access(db, os.R_OK | os.W_OK):
            problems.append(f"{key}: {db} is not readable and writable for this user (uid {os.geteuid()})")
    return problems


def _camera(cfg: PlategateConfig) -> list[str]:
    cam = cfg.camera
    if cam.backend == "replay" and not Path(cam.source).exists():
        return [f"camera.source: {cam.source} does not exist (an image folder or a video file)"]
    if cam.backend == "opencv" and cam.source.startswith("/") and not Path(cam.source).exists():
        return [f"camera.source: {cam.source} does not exist"]
    return []


def _serial(cfg: PlategateConfig) -> list[str]:
    relay = cfg.gate.relay
    if relay.type == "serial" and "://" not in relay.serial_port and not Path(relay.serial_port).exists():
        return [f"gate.relay.serial_port: {relay.serial_port} does not exist (is the relay board plugged in?)"]
    return []


def _readable(key: str, path: Path | None) -> list[str]:
    if path is None:
        return []
    if not path.is_file():
        return [f"{key}: {path} does not exist"]
    if not os.access(path, os.R_OK):
        return [f"{key}: {path} is not readable for this user (uid {os.geteuid()})"]
    return []


def _mqtt_files(cfg: PlategateConfig) -> list[str]:
    m = cfg.mqtt
    if not m.enabled:
        return []
    problems = _readable("mqtt.password_file", m.password_file)
    if m.tls is not None:
        tls = m.tls
        for key, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
            problems += _readable(f"mqtt.tls.{key}", path)
        if not problems:
            problems += _tls_loads(tls.ca_file, tls.cert_file, tls.key_file)
    return problems


def _webhook_files(cfg: PlategateConfig) -> list[str]:
    problems: list[str] = []
    for i, hook in enumerate(cfg.webhooks):
        problems += _readable(f"webhooks.{i}.secret_file", hook.secret_file)
    return problems


def _tls_loads(ca: Path | None, cert: Path | None, key: Path | None) -> list[str]:
    attempts: list[tuple[str, Callable[[ssl.SSLContext], None]]] = []
    if ca is not None:
        attempts.append(("mqtt.tls.ca_file", lambda ctx: ctx.load_verify_locations(cafile=str(ca))))
    if cert is not None:
        attempts.append(("mqtt.tls.cert_file", lambda ctx: ctx.load_cert_chain(str(cert), str(key) if key else None)))
    problems = []
    for key_path, load in attempts:
        try:
            load(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        except (ssl.SSLError, OSError, ValueError) as exc:
            problems.append(f"{key_path}: cannot load: {exc}")
    return problems


def warnings(cfg: PlategateConfig) -> list[str]:
    """What a start survives but leaves crippled, as ``key.path: problem`` lines."""
    return _control(cfg)


def _control(cfg: PlategateConfig) -> list[str]:
    from .control import resolve_group

    try:
        resolve_group(cfg.control.group)
    except PlategateError as exc:
        return [str(exc)]
    return []
