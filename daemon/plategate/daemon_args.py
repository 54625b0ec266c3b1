"""``plategated``'s command line up to the start of the daemon: the arguments, the config
(a lane's own with ``-i NAME``, see :mod:`plategate.instance`) and the one-shot modes
``--check-config`` and ``--relay-off`` (systemd's ExecStopPost)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import __version__
from .config import PlategateConfig
from .errors import PlategateError
from .gate import create_relay, make_pin_factory
from .instance import daemon_config


def relay_off(cfg: PlategateConfig) -> int:
    """De-energise the relay and exit (systemd ExecStopPost, after any kind of exit)."""
    relay = create_relay(cfg.gate.relay, make_pin_factory(cfg.gate.pin_factory))
    relay.close()
    print("relay de-energised")
    return 0


def one_shot(args: argparse.Namespace, cfg: PlategateConfig) -> int | None:
    """Run ``--check-config`` or ``--relay-off`` and return the exit code; ``None`` when the
    daemon is to run."""
    if args.check_config is not None:
        from .preflight import report

        logging.getLogger().setLevel(args.log_level or "WARNING")
        return report(cfg, str(args.config or "<defaults>"))
    logging.getLogger().setLevel(args.log_level or cfg.log_level)
    if args.relay_off:
        try:
            return relay_off(cfg)
        except PlategateError as exc:
            print(f"plategated: {exc}", file=sys.stderr)
            return 1
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="plategated", description="plategate ANPR gate controller daemon")
    parser.add_argument("-c", "--config", type=Path, help="TOML config file (default: the embedded defaults)")
    parser.add_argument("-i", "--instance", metavar="NAME",
                        help="run the lane NAME: /etc/plategate/NAME.toml (unless --config), with its own state "
                             "folder, control socket and gate id (plategate@NAME.service)")
    parser.add_argument("--check-config", nargs="?", const=True, default=None, metavar="FILE",
                        help="check the config (FILE, or the --config file) and what starting needs (pins, keys, "
                             "models, files, writable paths) without touching hardware; exit 2 on a problem")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--print-events", action="store_true",
                        help="print each decision and relay action on stdout (the demo uses this)")
    parser.add_argument("--relay-off", action="store_true", help="de-energise the relay and exit")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override log_level")
    parser.add_argument("--version", action="version", version=f"plategated {__version__}")
    return parser.parse_args(argv)


def prepare(argv: list[str] | None) -> tuple[argparse.Namespace, PlategateConfig] | int:
    """Parse *argv*, set up logging, load the config and run a one-shot mode if one is asked for.

    Returns:
        the exit code when the process is done: 2 when the config cannot be loaded (the
        error printed on stderr), else the one-shot mode's own; or ``(args, cfg)`` when the
        daemon is to run, ``args.config`` then being the file read (the lane's own with ``-i``).
    """
    args = parse_args(argv)
    if isinstance(args.check_config, str):
        args.config = Path(args.check_config)
    logging.basicConfig(level=args.log_level or "INFO", stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.config, cfg = daemon_config(args.config, args.instance)
    except PlategateError as exc:
        print(f"plategated: {exc}", file=sys.stderr)
        return 2
    code = one_shot(args, cfg)
    return (args, cfg) if code is None else code
