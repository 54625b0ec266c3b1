"""``plategate-web``: serve the web console with cheroot (HTTP, or HTTPS with the user's certificate).

It refuses to start while no password is set (``platectl web passwd USER``), so a
fresh installation has no open web page. It binds to ``web.bind`` (127.0.0.1 unless
the config names the LAN address).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from .. import __version__
from ..config import PlategateConfig
from ..errors import PlategateError
from ..instance import load_tool_config

logger = logging.getLogger(__name__)

EXIT_NO_PASSWORD = 3


class WebServer:
    """The console on a cheroot WSGI server.

    Args:
        cfg: the configuration (``[web]`` and ``control.socket`` are used).
        app: a WSGI application (default: :func:`plategate.web.app.create_app` for *cfg*).
        port: override ``web.port`` (0 picks a free port; see :attr:`port` after :meth:`start`).

    Raises:
        PlategateError: TLS files cannot be read.
    """

    def __init__(self, cfg: PlategateConfig, app=None, port: int | None = None) -> None:
        from cheroot import wsgi

        from .app import create_app

        self.cfg = cfg
        self.app = app or create_app(cfg)
        self.server = wsgi.Server((cfg.web.bind, cfg.web.port if port is None else port), self.app,
                                  numthreads=cfg.web.threads, server_name=f"plategate-web/{__version__}",
                                  timeout=30, shutdown_timeout=5)
        if cfg.web.tls_cert is not None:
            from cheroot.ssl.builtin import BuiltinSSLAdapter

            for path in (cfg.web.tls_cert, cfg.web.tls_key):
                if not os.access(path, os.R_OK):
                    raise PlategateError(f"web.tls_cert/tls_key: cannot read {path}")
            self.server.ssl_adapter = BuiltinSSLAdapter(str(cfg.web.tls_cert), str(cfg.web.tls_key))
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.cfg.web.tls_cert is not None else "http"

    @property
    def port(self) -> int:
        return int(self.server.bind_addr[1])

    @property
    def url(self) -> str:
        host = self.cfg.web.bind
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}/"

    def start(self) -> None:
        """Bind and serve in a background thread.

        Raises:
            PlategateError: the address cannot be bound.
        """
        try:
            self.server.prepare()
        except OSError as exc:
            raise PlategateError(f"web.bind {self.cfg.web.bind}:{self.cfg.web.port}: cannot listen: "
                                 f"{exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self.server.serve, name="web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="plategate-web", description="plategate web console")
    parser.add_argument("-c", "--config", type=Path,
                        help="TOML config file (default: $PLATEGATE_CONFIG or /etc/plategate/plategate.toml)")
    parser.add_argument("-i", "--instance", metavar="NAME",
                        help="the console of the lane NAME (plategate@NAME): /etc/plategate/NAME.toml (unless "
                             "--config) and that lane's control socket; give each lane's file its own web.port")
    parser.add_argument("--port", type=int, help="override web.port")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="INFO")
    parser.add_argument("--version", action="version", version=f"plategate-web {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``plategate-web``; returns the exit status (3: no password set)."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_tool_config(args.config, args.instance)
        from .auth import read_users

        if not read_users(cfg.web.password_file):
            print(f"plategate-web: the web console is off: no password set in {cfg.web.password_file} "
                  f"(set one with: sudo platectl web passwd USER)", file=sys.stderr)
            return EXIT_NO_PASSWORD
        server = WebServer(cfg, port=args.port)
        server.start()
    except PlategateError as exc:
        print(f"plategate-web: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"plategate-web: {exc.name} is not installed: pip install 'plategate[web]'", file=sys.stderr)
        return 1
    if cfg.web.bind in ("0.0.0.0", "::"):
        logger.warning("web.bind %s: listening on every interface; set the LAN address to keep it off others",
                       cfg.web.bind)
    if server.scheme == "http" and cfg.web.bind not in ("127.0.0.1", "::1", "localhost"):
        logger.warning("serving plain HTTP on %s: passwords cross the network unencrypted; set web.tls_cert and "
                       "web.tls_key", cfg.web.bind)
    logger.info("plategate-web %s listening on %s (daemon socket %s)", __version__, server.url, cfg.control.socket)
    print(f"plategate-web listening on {server.url}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
