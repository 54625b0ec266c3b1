"""``plategated``'s command line, and ``--relay-off`` (systemd's ExecStopPost)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import __version__
from .config import PlategateConfig
from .gate import create_relay, make_pin_factory


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
                        help="check the config (FILE, or the --config file) and what starting needs (pins, keys, "
                             "models, files, writable paths) without touching hardware; exit 2 on a problem")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--print-events", action="store_true",
                        help="print each decision and relay action on stdout (the demo uses this)")
    parser.add_argument("--relay-off", action="store_true", help="de-energise the relay and exit")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override log_level")
    parser.add_argument("--version", action="version", version=f"plategated {__version__}")
    return parser.parse_args(argv)
