"""A real HTTP receiver for webhook tests (http.server on 127.0.0.1) that can go down and come back
on the same port, and answer errors for a while."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from plategate.webhooks import verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records every POST: (event id, body dict, signature valid, Idempotency-Key)."""

    def __init__(self, secret: bytes, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.received: list[dict] = []
        self.fail_with: int | None = None  # answer this status instead of 200
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/plategate"

    def up(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if owner.fail_with:
                    self.send_response(owner.fail_with)
                    self.end_headers()
                    return
                with owner._lock:
                    owner.received.append({
                        "id": json.loads(body)["id"], "body": json.loads(body),
                        "valid": verify(body, owner.secret, self.headers.get("X-Plategate-Signature")),
                        "key": self.headers.get("Idempotency-Key"), "path": self.path})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> set[str]:
        with self._lock:
            return {r["id"] for r in self.received}
