"""``plategated``: builds the parts from the config, runs them, and talks to systemd.

Threads: the capture loop, the recognition worker, the control socket and the MQTT
bridge run on their own; the main thread supervises: it sends the watchdog only
while the capture and recognition threads keep beating, updates STATUS, applies
retention, and handles SIGTERM/SIGINT (stop) and SIGHUP (reload).
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import sys
import threading
import time
from pathlib import Path

from . import __version__
from .camera import CameraSupervisor, create_supervised_camera
from .config import PlategateConfig, load_config
from .errors import PlategateError
from .gate import GateController, create_inputs, create_relay, make_pin_factory
from .gatekeeper import GateKeeper
from .journal import Journal
from .notify import Notifier
from .pipeline import CaptureLoop, Heartbeats, PipelineStats, RecognitionWorker, roi_tuple

logger = logging.getLogger(__name__)

STALL_S = 15.0  # a pipeline thread that has not beaten for this long is stalled
RETENTION_EVERY_S = 3600.0
MQTT_STATUS_EVERY_S = 30.0


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
        instance: the lane name (``plategated -i NAME``), re-applied to the config on reload.
    """

    def __init__(self, cfg: PlategateConfig, config_path: Path | None = None, *, pin_factory=None,
                 recognizer=None, notifier: Notifier | None = None, printer=None, stall_s: float = STALL_S,
                 instance: str | None = None) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.instance = instance
        self.pin_factory = pin_factory
        self.recognizer = recognizer
        self.notifier = notifier or Notifier()
        self.printer = printer
        self.heartbeats = Heartbeats()
        self.stats = PipelineStats()
        self.started_at = time.monotonic()
        self.state = "starting"
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._source_ended = threading.Event()
        self.bridge = None
        self.control = None
        self.watchdog_paused = False
        self.stall_s = stall_s

    # -- construction -------------------------------------------------------
    def start(self) -> None:
        """Build and start every part.

        Raises:
            PlategateError: a part cannot start (models, journal, GPIO, camera backend...).
        """
        cfg = self.cfg
        from .access.policy import AccessPolicy
        from .access.store import AllowlistStore

        self.journal = Journal(cfg.journal_db(), cfg.snapshot_dir(), cfg.journal)
        self.store = AllowlistStore(cfg.access_db())
        self._import_allowlist_file()
        self.policy = AccessPolicy(self.store, cfg.access)
        if self.pin_factory is None:
            self.pin_factory = make_pin_factory(cfg.gate.pin_factory)
        self.relay = create_relay(cfg.gate.relay, self.pin_factory, self._relay_changed)
        self.gate = GateController(self.relay, cfg.gate.relay, self._gate_action)
        self.inputs = create_inputs(cfg.gate, self.pin_factory, self._input_changed)
        if self.recognizer is None:
            self.recognizer = build_recognizer(cfg)
        self.camera: CameraSupervisor = create_supervised_camera(cfg.camera)
        if cfg.mqtt.enabled:
            from .mqtt.bridge import MqttBridge

            self.bridge = MqttBridge(cfg, self.store)
        from .access.lane import build_lane_policy

        self.lane = build_lane_policy(self.policy, cfg.lane, cfg.gate_id)
        self.keeper = GateKeeper(self.lane, self.gate, self.journal,
                                 self.bridge.publish_event if self.bridge else None)
        if self.printer is not None:
            self.keeper.add_listener(self._print_event)
        self.frames: queue.Queue = queue.Queue(maxsize=cfg.recognition.queue_size)
        self.capture = CaptureLoop(self.camera, cfg.motion, self.frames, self.heartbeats, self.stats,
                                   on_end=self._source_ended.set)
        self.worker = RecognitionWorker(self.recognizer, self.frames, self.keeper.handle, self.heartbeats,
                                        self.stats, cfg.recognition.vote_confidence, roi_tuple(cfg.recognition.roi),
                                        ready=self.lane.ready)
        if self.bridge is not None:
            from .handlers import command_handler

            self.bridge.set_command_handler(command_handler(self))
            self.bridge.start()
        self._start_control()
        self.worker.start()
        self.capture.start()
        self.state = "running"
        self.notifier.ready(self.status_line())
        logger.info("plategated %s running: camera %s, relay %s, allowlist version %s (%d entries)", __version__,
                    cfg.camera.backend, cfg.gate.relay.type, self.store.version, self.store.count())

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

    def _import_allowlist_file(self) -> None:
        path = self.cfg.access.allowlist_file
        if path is None:
            return
        if self.cfg.mqtt.enabled and self.cfg.mqtt.site_public_keys:
            logger.warning("access.allowlist_file %s ignored: the list comes from the site over signed MQTT sync", path)
            return
        try:
            n = self.store.import_csv(path) if path.suffix.lower() != ".json" else self.store.import_json(path)
            logger.info("allowlist file %s loaded: %d entries", path, n)
        except PlategateError as exc:
            logger.error("allowlist file not loaded, keeping the stored list: %s", exc)

    # -- callbacks ------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self.printer is not None:
            self.printer(line)

    def _relay_changed(self, state: str) -> None:
        self._say(f"{time.strftime('%H:%M:%S')}  relay {state.upper()}")

    def _gate_action(self, action: str, detail: dict) -> None:
        if action == "open":
            self._say(f"{time.strftime('%H:%M:%S')}  gate OPEN ({detail.get('reason')}, {detail.get('plate')})")

    def _input_changed(self, name: str, present: bool) -> None:
        self.gate.set_presence(name, present)
        if not present and not self.gate.vehicle_present:
            self.lane.vehicle_left()
        section = getattr(self.cfg.gate, name)
        if present and section.triggers_capture:
            self.capture.request_trigger(name)

    def _print_event(self, event: dict) -> None:
        if event.get("type") == "no_plate":
            self._say(f"{time.strftime('%H:%M:%S')}  burst {event['burst']}: no plate read")
            return
        label = f" [{event['label']}]" if event.get("label") else ""
        self._say(f"{time.strftime('%H:%M:%S')}  {event['plate']:<10} conf {event['confidence']:.2f}  "
                  f"{event['decision'].upper():<8} {event.get('direction') or 'unknown':<11} {event['reason']}{label}  "
                  f"{event['latency_ms']:.0f} ms")

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
        return (f"{self.state}; camera {cam['state']} {cam['fps']:.1f} fps; decisions {self.keeper.decisions}; "
                f"allowlist v{self.store.version}")

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def run(self, duration: float | None = None) -> int:
        """Supervise until stopped, the duration is over, or a replay source has ended."""
        deadline = None if duration is None else time.monotonic() + duration
        interval = self.notifier.watchdog_interval_s or 1.0
        last_status = last_retention = last_mqtt = 0.0
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
            elif not stalled_logged:
                logger.error("pipeline stalled (%s): watchdog withheld",
                             ", ".join(self.heartbeats.stale(self.stall_s)) or "thread ended")
                stalled_logged = True
            if now - last_status >= 5.0:
                self.notifier.status(self.status_line())
                self.journal.flush()
                last_status = now
            if self.bridge is not None and now - last_mqtt >= MQTT_STATUS_EVERY_S:
                self.bridge.set_status(self.health())
                last_mqtt = now
            if now - last_retention >= RETENTION_EVERY_S:
                self.journal.enforce_retention()
                last_retention = now
            self._stop.wait(min(interval, 0.5))
        return 0

    def reload(self) -> None:
        """Re-read the config file and the allowlist file (SIGHUP).

        Sections that can change while running (access, motion, recognition voting,
        journal, log level) are applied; changes that need a restart are logged.
        """
        self.notifier.reloading()
        try:
            if self.config_path is not None:
                new = load_config(self.config_path)
                if self.instance:
                    from .instance import apply_instance

                    new = apply_instance(new, self.instance)
                for section in ("camera", "gate", "mqtt", "control", "state_dir", "lane"):
                    if getattr(new, section) != getattr(self.cfg, section):
                        logger.warning("config %s changed: restart plategated to apply it", section)
                self.cfg.access, self.cfg.journal, self.cfg.log_level = new.access, new.journal, new.log_level
                self.policy.cfg = new.access
                self.journal.cfg = new.journal
                self.capture.motion.cfg = self.capture.cfg = new.motion
                self.worker.vote_confidence = new.recognition.vote_confidence
                logging.getLogger().setLevel(new.log_level)
            self._import_allowlist_file()
            logger.info("reloaded")
        except PlategateError as exc:
            logger.error("reload failed, keeping the running config: %s", exc)
        self.notifier.ready(self.status_line())

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
        for closer in ("gate", "camera", "control", "bridge"):
            obj = getattr(self, closer, None)
            if obj is None:
                continue
            try:
                obj.close() if closer == "gate" else obj.stop()
            except Exception:
                logger.exception("stopping %s failed", closer)
        for device in getattr(self, "inputs", {}).values():
            device.close()
        for closer in ("journal", "store", "lane"):
            obj = getattr(self, closer, None)
            if obj is not None:
                obj.close()
        self.state = "stopped"
        logger.info("stopped")


def relay_off(cfg: PlategateConfig) -> int:
    """De-energise the relay and exit (systemd ExecStopPost, after any kind of exit)."""
    relay = create_relay(cfg.gate.relay, make_pin_factory(cfg.gate.pin_factory))
    relay.close()
    print("relay de-energised")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="plategated", description="plategate ANPR gate controller daemon")
    parser.add_argument("-c", "--config", type=Path, help="TOML config file (default: the embedded defaults)")
    parser.add_argument("-i", "--instance", metavar="NAME",
                        help="run the lane NAME: /etc/plategate/NAME.toml (unless --config), with its own state "
                             "folder, control socket and gate id (plategate@NAME.service)")
    parser.add_argument("--check-config", nargs="?", const=True, default=None, metavar="FILE",
                        help="validate the config (FILE, or the --config file) and exit without starting")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--print-events", action="store_true",
                        help="print each decision and relay action on stdout (the demo uses this)")
    parser.add_argument("--relay-off", action="store_true", help="de-energise the relay and exit")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override log_level")
    parser.add_argument("--version", action="version", version=f"plategated {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``plategated``; returns the process exit code."""
    args = parse_args(argv)
    if isinstance(args.check_config, str):
        args.config = Path(args.check_config)
    logging.basicConfig(level=args.log_level or "INFO", stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.instance:
            from .instance import instance_config_path, load_instance

            args.config = args.config or instance_config_path(args.instance)
            cfg = load_instance(args.instance, args.config)
        else:
            cfg = load_config(args.config)
    except PlategateError as exc:
        print(f"plategated: {exc}", file=sys.stderr)
        return 2
    if args.check_config is not None:
        print(f"{args.config or '<defaults>'}: configuration is valid")
        return 0
    logging.getLogger().setLevel(args.log_level or cfg.log_level)
    if args.relay_off:
        try:
            return relay_off(cfg)
        except PlategateError as exc:
            print(f"plategated: {exc}", file=sys.stderr)
            return 1
    printer = (lambda line: print(line, flush=True)) if args.print_events else None
    service = Service(cfg, args.config, printer=printer, instance=args.instance)
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
