"""``plategated``: builds the parts from the config, runs them, and talks to systemd.

Threads: the capture loop, the recognition worker, the control socket and the MQTT
bridge run on their own; the main thread supervises: it sends the watchdog only
while the capture and recognition threads keep beating, updates STATUS, applies
retention, hands journaled events the MQTT outbox could not take over again, and
handles SIGTERM/SIGINT (stop) and SIGHUP (reload, see :mod:`plategate.reload`).

Before anything else it takes an exclusive lock on ``state_dir`` (:mod:`plategate.statelock`):
a second daemon on the same state exits with status 1. READY=1 goes to systemd once the
models are loaded and the camera delivers frames, or after ``ready_wait_s`` with STATUS
saying what is still missing (the daemon guards the gate meanwhile and keeps retrying).
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time
from pathlib import Path

from . import __version__, overrides
from .access.filesync import load_allowlist_file
from .access.lane import build_lane_policy
from .audit import AuditLog
from .camera import CameraSupervisor, create_supervised_camera
from .config import PlategateConfig
from .console import ConsolePrinter
from .daemon_args import prepare
from .errors import PlategateError
from .forwarding import EventForwarder, FanOut
from .gate import GateController, create_inputs, create_relay, make_pin_factory
from .gatekeeper import GateKeeper, public_event
from .instance import daemon_config
from .journal import Journal
from .notify import Notifier
from .pipeline import CaptureLoop, Heartbeats, PipelineStats, RecognitionWorker, roi_tuple
from .reload import ReloadReport, apply_reload
from .statelock import StateLock
from .webhooks import Webhooks

logger = logging.getLogger(__name__)

STALL_S = 15.0  # a pipeline thread that has not beaten for this long is stalled
RETENTION_EVERY_S = 3600.0
REFILL_EVERY_S = 2.0  # hand journaled events the outbox could not take over again
READY_WAIT_S = 20.0  # longest wait for the camera's first frame before READY=1


def build_recognizer(cfg: PlategateConfig):
    """Load the detector and reader named by the config.

    Raises:
        ModelError: a model is missing, truncated, tampered with or unusable.
    """
    from .vision.recognizer import Recognizer

    return Recognizer.from_config(cfg.recognition)


class Service:
    """The running daemon.

    Args:
        cfg: the validated configuration.
        config_path: the file it came from (re-read on reload), if any.
        pin_factory: a gpiozero pin factory (default: from ``gate.pin_factory``).
        recognizer: a recognizer to use instead of loading the configured models.
        notifier: the sd_notify channel (default: from the environment).
        printer: called with one human-readable line per decision and relay action.
        log_level_fixed: the log level came from the command line; a reload keeps it.
        ready_wait_s: longest wait for the camera before READY=1 (then STATUS says why).
        instance: the lane name (``plategated -i NAME``), re-applied to the config on reload.
    """

    def __init__(self, cfg: PlategateConfig, config_path: Path | None = None, *, pin_factory=None,
                 recognizer=None, notifier: Notifier | None = None, printer=None, stall_s: float = STALL_S,
                 log_level_fixed: bool = False, ready_wait_s: float = READY_WAIT_S,
                 instance: str | None = None) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.instance = instance
        self.pin_factory = pin_factory
        self.recognizer = recognizer
        self.notifier = notifier or Notifier(watchdog=cfg.watchdog)
        self.console = ConsolePrinter(printer) if printer is not None else None
        self.heartbeats = Heartbeats()
        self.stats = PipelineStats()
        self.started_at = time.monotonic()
        self.state = "starting"
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._source_ended = threading.Event()
        self._status_changed = threading.Event()
        self.bridge = None
        self.webhooks = None
        self.control = None
        self.watchdog_paused = False
        self.stall_s = stall_s
        self.log_level_fixed = log_level_fixed
        self.ready_wait_s = ready_wait_s
        self.ready_note: str | None = None
        self.last_reload: dict | None = None
        self.lock = StateLock(cfg.state_dir)
        self.forwarder: EventForwarder | None = None

    # -- construction -------------------------------------------------------
    def start(self) -> None:
        """Build and start every part.

        Raises:
            AlreadyRunning: another daemon holds the state directory.
            PlategateError: a part cannot start (models, journal, GPIO, camera backend...).
        """
        self.cfg = cfg = overrides.applied(self.cfg)
        from .access.policy import AccessPolicy
        from .access.store import AllowlistStore

        self.lock.acquire()
        self.journal = Journal(cfg.journal_db(), cfg.snapshot_dir(), cfg.journal)
        self.audit = AuditLog(cfg.journal_db())
        self.store = AllowlistStore(cfg.access_db())
        load_allowlist_file(self.store, self.cfg)
        self.policy = AccessPolicy(self.store, cfg.access)
        if self.pin_factory is None:
            self.pin_factory = make_pin_factory(cfg.gate.pin_factory)
        self.relay = create_relay(cfg.gate.relay, self.pin_factory, self._relay_changed)
        self.gate = GateController(self.relay, cfg.gate.relay, self.console and self.console.gate_action)
        self.inputs = create_inputs(cfg.gate, self.pin_factory, self._input_changed)
        if self.recognizer is None:
            self.recognizer = build_recognizer(cfg)
        self.camera: CameraSupervisor = create_supervised_camera(cfg.camera)
        self.forwarder = EventForwarder(self.journal, public_event)
        self.bridge = self._build_bridge(cfg)
        self.webhooks = Webhooks.from_config(cfg)
        self._set_publisher()
        self.lane = build_lane_policy(self.policy, cfg.lane, cfg.gate_id)
        self.keeper = GateKeeper(self.lane, self.gate, self.journal, self.forwarder)
        if self.console is not None:
            self.keeper.add_listener(self.console.event)
        self.frames: queue.Queue = queue.Queue(maxsize=cfg.recognition.queue_size)
        self.capture = CaptureLoop(self.camera, cfg.motion, self.frames, self.heartbeats, self.stats,
                                   on_end=self._source_ended.set)
        self.worker = RecognitionWorker(self.recognizer, self.frames, self.keeper.handle, self.heartbeats,
                                        self.stats, cfg.recognition.vote_confidence, roi_tuple(cfg.recognition.roi),
                                        ready=self.lane.ready)
        if self.bridge is not None:
            self.bridge.start()
        if self.webhooks is not None:
            self.webhooks.start()
        self.forwarder.refill()
        self._start_control()
        self.worker.start()
        self.capture.start()
        self.state = "running"
        self._wait_for_camera()
        self.notifier.ready(self.status_line())
        logger.info("plategated %s running: camera %s, relay %s, allowlist version %s (%d entries)", __version__,
                    cfg.camera.backend, cfg.gate.relay.type, self.store.version, self.store.count())

    def _build_bridge(self, cfg: PlategateConfig):
        """A new MQTT bridge wired to this daemon (not started), or ``None`` with MQTT off.

        Raises:
            PlategateError: bad keys, TLS files, password file, or the outbox cannot be opened.
        """
        if not cfg.mqtt.enabled:
            return None
        from .handlers import command_handler
        from .mqtt.bridge import MqttBridge

        bridge = MqttBridge(cfg, self.store)
        bridge.set_command_handler(command_handler(self))
        bridge.set_status_source(self.health)
        return bridge

    def replace_bridge(self, cfg: PlategateConfig) -> None:
        """Reconnect with *cfg*'s ``[mqtt]`` (or stop MQTT when it is off there).

        Raises:
            PlategateError: the new bridge cannot be built; the old one keeps running.
        """
        new = self._build_bridge(cfg)
        old, self.bridge = self.bridge, None
        self._set_publisher()
        if old is not None:
            old.stop()
        self.bridge = new
        self._set_publisher()
        if new is not None:
            new.start()
            self.forwarder.refill()

    def _set_publisher(self) -> None:
        """Journaled events go to the MQTT outbox and the webhook outbox (whichever are on)."""
        self.forwarder.set_publisher(FanOut.of(self.bridge and self.bridge.publish_event,
                                               self.webhooks and self.webhooks.publish))

    def _wait_for_camera(self) -> None:
        def ping() -> None:  # a long wait must not look like a hang
            if self.alive():
                self.notifier.watchdog()

        if self.camera.wait_up(self.ready_wait_s, self._stop, ping, self.notifier.watchdog_interval_s):
            self.ready_note = None
            return
        error = self.camera.camera.last_error or "no frame yet"
        self.ready_note = f"camera not up after {self.ready_wait_s:g} s ({error}); retrying"
        logger.warning("ready without the camera: %s", self.ready_note)

    def status_extra(self) -> dict:
        """Readiness and the last reload, for ``platectl status``."""
        ready = self.ready_note if self.ready_note and not self.camera.healthy else None
        return {"not_ready": ready, "last_reload": self.last_reload}

    def _start_control(self) -> None:
        from .control import ControlServer
        from .handlers import control_handlers, control_streams

        try:
            self.control = ControlServer(self.cfg.control.socket, self.cfg.control.group,
                                         control_handlers(self), control_streams(self))
            self.control.start()
        except (PlategateError, OSError) as exc:
            logger.error("control socket %s not available (%s): platectl cannot reach this daemon",
                         self.cfg.control.socket, exc)
            self.control = None

    # -- callbacks ------------------------------------------------------------
    def _relay_changed(self, state: str) -> None:
        if self.console is not None:
            self.console.relay_changed(state)
        self._status_changed.set()  # the supervisor republishes the MQTT status (Home Assistant's sensors)

    def _input_changed(self, name: str, present: bool) -> None:
        self.gate.set_presence(name, present)
        if not present and not self.gate.vehicle_present:
            self.lane.vehicle_left()
        section = getattr(self.cfg.gate, name)
        if present and section.triggers_capture:
            self.capture.request_trigger(name)

    # -- running --------------------------------------------------------------
    def alive(self) -> bool:
        """Whether the capture and recognition threads are running and beating."""
        return (self.capture.is_alive() and self.worker.is_alive()
                and not self.heartbeats.stale(self.stall_s) and not self.watchdog_paused)

    def models_health(self) -> dict:
        """The recognizer's model report (files, hashes, timings), or a plain "loaded" for
        a recognizer that has none."""
        report = getattr(self.recognizer, "health", None)
        return report() if callable(report) else {"recognizer": {"ok": True}}

    def health(self) -> dict:
        """Version and the health of camera, models and relay (the MQTT status payload)."""
        return {"version": __version__, "uptime_s": round(time.monotonic() - self.started_at, 1),
                "pipeline_alive": self.alive(),
                "health": {"camera": self.camera.health, "relay": self.gate.status, "models": self.models_health()}}

    def status_line(self) -> str:
        cam = self.camera.health
        line = (f"{self.state}; camera {cam['state']} {cam['fps']:.1f} fps; decisions {self.keeper.decisions}; "
                f"allowlist v{self.store.version}")
        extra = self.status_extra()
        if extra["not_ready"]:
            line += f"; {extra['not_ready']}"
        if self.last_reload and self.last_reload["refused"]:
            line += f"; last reload refused {', '.join(self.last_reload['refused'])} (restart needed)"
        return line

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def run(self, duration: float | None = None) -> int:
        """Supervise until stopped, the duration is over, or a replay source has ended."""
        deadline = None if duration is None else time.monotonic() + duration
        interval = self.notifier.watchdog_interval_s or 1.0
        last_status = last_retention = last_refill = 0.0
        health_seen = None
        stalled_logged = False
        while not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                logger.info("duration reached")
                break
            if self._source_ended.is_set() and self.worker.idle():
                logger.info("end of footage: stopping")
                break
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            if self.alive():
                self.notifier.watchdog()
                stalled_logged = False
            elif not stalled_logged and not self._source_ended.is_set():  # a replay that ended is no stall
                logger.error("pipeline stalled (%s): watchdog withheld",
                             ", ".join(self.heartbeats.stale(self.stall_s)) or "thread ended")
                stalled_logged = True
            if now - last_status >= 5.0:
                self.notifier.status(self.status_line())
                self.journal.flush()
                last_status = now
            if now - last_refill >= REFILL_EVERY_S:
                self.forwarder.refill()
                last_refill = now
            bridge = self.bridge
            if bridge is not None:
                seen = (self.camera.health["state"], self.gate.status.get("state"), self.alive())
                if seen != health_seen or self._status_changed.is_set():  # a change of health at once
                    self._status_changed.clear()
                    bridge.publish_status()
                    health_seen = seen
            if now - last_retention >= RETENTION_EVERY_S:
                self.journal.enforce_retention()
                self.audit.prune(time.time() - self.cfg.journal.retention_days * 86400)
                last_retention = now
            self._stop.wait(min(interval, 0.5))
        return 0

    def reload(self) -> ReloadReport:
        """Re-read the config file and the allowlist file (SIGHUP); see :mod:`plategate.reload`."""
        self.notifier.reloading()
        report = ReloadReport()
        if self.config_path is not None:
            try:
                new = overrides.applied(daemon_config(self.config_path, self.instance)[1])
            except PlategateError as exc:
                report.refused.append("config file")
                report.errors.append(str(exc))
                logger.error("reload refused, keeping the running config: %s", exc)
            else:
                report = apply_reload(self, new, self.log_level_fixed)
        load_allowlist_file(self.store, self.cfg)
        self.last_reload = report.as_dict()
        (logger.warning if report.refused else logger.info)("%s", report.summary())
        self.notifier.ready(self.status_line())
        return report

    def stop(self) -> None:
        """Stop everything; the relay ends de-energised and the journal flushed."""
        self.state = "stopping"
        self.notifier.stopping()
        for part in ("capture", "worker"):
            thread = getattr(self, part, None)
            if thread is not None:
                thread.stop()
        for part in ("capture", "worker"):
            thread = getattr(self, part, None)
            if thread is not None and thread.is_alive():
                thread.join(timeout=5.0)
        for closer in ("gate", "camera", "control", "bridge", "webhooks"):
            obj = getattr(self, closer, None)
            if obj is None:
                continue
            try:
                obj.close() if closer == "gate" else obj.stop()
            except Exception:
                logger.exception("stopping %s failed", closer)
        for device in getattr(self, "inputs", {}).values():
            device.close()
        for closer in ("journal", "audit", "store", "lane"):
            obj = getattr(self, closer, None)
            if obj is not None:
                obj.close()
        self.lock.release()
        self.state = "stopped"
        logger.info("stopped")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``plategated``; returns the process exit code."""
    prepared = prepare(argv)
    if isinstance(prepared, int):  # a config error or a one-shot mode (--check-config, --relay-off)
        return prepared
    args, cfg = prepared
    printer = (lambda line: print(line, flush=True)) if args.print_events else None
    service = Service(cfg, args.config, printer=printer, log_level_fixed=args.log_level is not None,
                      instance=args.instance)
    signal.signal(signal.SIGTERM, lambda *_: service.request_stop())
    signal.signal(signal.SIGINT, lambda *_: service.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: service.request_reload())
    try:
        service.start()
    except PlategateError as exc:
        logger.error("cannot start: %s", exc)
        service.stop()
        return 1
    try:
        return service.run(args.duration)
    finally:
        service.stop()


if __name__ == "__main__":
    sys.exit(main())
