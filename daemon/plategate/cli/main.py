"""platectl: the technician's command line for plategate.

Every subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. User errors (bad config, dead daemon, refused socket, a
relay test without ``--confirm`` ...) print one line ``platectl: error: ...`` and
exit non-zero; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..errors import PlategateError
from .common import UsageError

logger = logging.getLogger(__name__)

# Subcommand modules in help order; "recognize" belongs to the recognition part.
MODULES = ("status", "diag", "watch", "events", "allowlist", "relay", "capture", "recognize", "web")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, and whose subparsers share the common options."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("conflict_handler", "resolve")
        top = kwargs.pop("top", False)
        super().__init__(*args, **kwargs)
        default = None if top else argparse.SUPPRESS
        self.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                          help="machine-readable JSON output")
        self.add_argument("--debug", action="store_true", default=False if top else argparse.SUPPRESS,
                          help="verbose logging; tracebacks on errors")
        self.add_argument("-c", "--config", metavar="FILE", default=default,
                          help="config file (default: $PLATEGATE_CONFIG or /etc/plategate/plategate.toml)")
        self.add_argument("--socket", metavar="PATH", default=default,
                          help="control socket (default: control.socket from the config)")
        self.add_argument("-i", "--instance", metavar="NAME", default=default,
                          help="the lane NAME (plategate@NAME): /etc/plategate/NAME.toml and its own socket")

    def error(self, message: str) -> None:  # one clear line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _unavailable(name: str, problem: str):
    """A stand-in subcommand for a module that is missing or broken in this installation."""

    class Stub:
        @staticmethod
        def add_parser(subparsers) -> None:
            p = subparsers.add_parser(name, help=f"(unavailable: {problem})", add_help=True)
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(func=Stub.run)

        @staticmethod
        def run(_args) -> int:
            raise PlategateError(f"'{name}' is not available in this installation: {problem}")

    return Stub


def _load_module(name: str):
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__package__}.{name}":
            return _unavailable(name, f"module plategate.cli.{name} is missing")
        return _unavailable(name, f"needs {exc.name!r}, which is not installed")
    except ImportError as exc:
        return _unavailable(name, f"import failed: {exc}")


def build_parser() -> Parser:
    """The full platectl argument parser."""
    parser = Parser(prog="platectl", top=True,
                    description="Diagnose, test and operate a plategate ANPR gate controller.",
                    epilog="Most commands talk to the running plategated over its control socket; "
                           "allowlist and events fall back to the files when it is not running.")
    parser.add_argument("--version", action="version", version=f"platectl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    subparsers.required = True
    for name in MODULES:
        _load_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run platectl with *argv* (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    flags = argv[: argv.index("--")] if "--" in argv else argv
    for flag in ("json", "debug"):  # a subcommand's own default must not undo a global --json
        if f"--{flag}" in flags:
            setattr(args, flag, True)
    debug = bool(args.debug or os.environ.get("PLATEGATE_DEBUG"))
    handler = _setup_logging(debug)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        _fail(exc, debug)
        return 2
    except (PlategateError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):  # platectl events tail | head
            return 0
        _fail(exc, debug)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        logging.getLogger("plategate").removeHandler(handler)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (safe when main() runs repeatedly)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _setup_logging(debug: bool) -> logging.Handler:
    log = logging.getLogger("plategate")
    for handler in [h for h in log.handlers if isinstance(h, _StderrHandler)]:
        log.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("platectl: %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else logging.NOTSET)
    return handler


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, OSError) and not isinstance(exc, PlategateError):
        where = f" {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror or exc}{':' if where else ''}{where}"
    else:
        text = str(exc)
    lines = text.strip().splitlines() or [type(exc).__name__]
    print(f"platectl: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:  # a config error lists each bad key on its own line
        print(f"  {line.strip()}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
