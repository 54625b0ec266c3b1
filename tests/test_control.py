"""The control socket: JSON-lines protocol, streams, dead daemon, socket mode and peer checks."""

from __future__ import annotations

import grp
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest

from plategate.control import ControlServer
from plategate.control_client import ControlClient
from plategate.errors import ControlError, StorageError

NOBODY = 65534
GROUP = "video"  # exists on Debian and Raspberry Pi OS; stands in for the service's group


@pytest.fixture
def sockdir():
    """A world-traversable folder so that a child running as nobody reaches the socket."""
    path = Path(tempfile.mkdtemp(prefix="pgctl-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _handlers() -> dict:
    def fail(_args):
        raise StorageError("journal.db: disk full")

    def crash(_args):
        raise RuntimeError("boom")

    return {"echo": lambda args: {"got": {k: v for k, v in args.items() if k != "_peer"}},
            "whoami": lambda args: args["_peer"], "fail": fail, "crash": crash}


@pytest.fixture
def server(sockdir):
    def counter(args):
        for i in range(int(args.get("n", 3))):
            yield None  # heartbeat, not sent
            yield {"i": i}

    srv = ControlServer(sockdir / "control.sock", GROUP, _handlers(), {"count": counter})
    srv.start()
    yield srv
    srv.stop()


def run_as(uid: int, gid: int, fn) -> str:
    """Run *fn()* in a forked child with the given uid/gid (no supplementary groups)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            out = "OK " + json.dumps(fn())
        except BaseException as exc:  # noqa: BLE001 - report everything to the parent
            out = f"ERR {type(exc).__name__}: {exc}"
        os.write(wfd, out.encode())
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as fh:
        data = fh.read().decode()
    os.waitpid(pid, 0)
    return data


def test_call_roundtrip_and_errors(server):
    client = ControlClient(server.path)
    assert client.call("echo", plate="AB123CD", n=2) == {"got": {"plate": "AB123CD", "n": 2}}
    assert client.call("ping")["pid"] == os.getpid()
    assert "echo" in client.call("help") and "count" in client.call("help")
    with pytest.raises(ControlError, match="disk full"):
        client.call("fail")
    with pytest.raises(ControlError, match="internal error in crash: RuntimeError: boom"):
        client.call("crash")
    with pytest.raises(ControlError, match="unknown command 'nope'.*echo"):
        client.call("nope")
    assert client.is_running()
    # the server survived the failing handlers
    assert client.call("echo") == {"got": {}}


def test_handlers_see_the_peer_from_the_kernel_not_from_the_request(server):
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    peer = ControlClient(server.path).call("whoami", _peer={"user": "mallory", "uid": 0})
    assert peer == {"pid": os.getpid(), "uid": os.getuid(), "user": me}


def test_bad_request_lines(server):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(server.path))
        sock.sendall(b"not json\n[1,2]\n{\"cmd\": \"echo\", \"x\": 1}\n")
        reader = sock.makefile("rb")
        first, second, third = (json.loads(reader.readline()) for _ in range(3))
    assert not first["ok"] and first["error"].startswith("bad request")
    assert not second["ok"] and "string 'cmd'" in second["error"]
    assert third == {"ok": True, "result": {"got": {"x": 1}}}


def test_stream(server):
    items = list(ControlClient(server.path).stream("count", n=4))
    assert items == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}]


def test_stream_ends_when_server_stops(sockdir):
    started = threading.Event()

    def forever(_args):
        started.set()
        while True:
            yield {"tick": 1}
            threading.Event().wait(0.05)

    srv = ControlServer(sockdir / "c.sock", None, {}, {"watch": forever})
    srv.start()
    got = []

    def consume():
        try:
            for item in ControlClient(srv.path).stream("watch"):
                got.append(item)
        except ControlError as exc:
            got.append(str(exc))

    t = threading.Thread(target=consume)
    t.start()
    assert started.wait(5)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:  # the first tick has reached the client
        time.sleep(0.01)
    srv.stop()
    t.join(5)
    assert not t.is_alive()
    assert got and got[0] == {"tick": 1}


def test_dead_daemon_messages(sockdir):
    path = sockdir / "control.sock"
    with pytest.raises(ControlError, match=r"^plategated is not running \(no socket at .*control.sock\)$"):
        ControlClient(path).call("status")
    # a socket file left behind by a daemon that died
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()
    with pytest.raises(ControlError, match="plategated is not running \\(stale socket"):
        ControlClient(path).call("status")
    assert not ControlClient(path).is_running()
    # a new server replaces the stale file
    with ControlServer(path, None, _handlers()) as srv:
        assert ControlClient(srv.path).call("echo", a=1) == {"got": {"a": 1}}
    assert not path.exists()


def test_second_server_and_non_socket_refused(server, sockdir):
    with pytest.raises(ControlError, match="already listening"):
        ControlServer(server.path, GROUP).start()
    plain = sockdir / "plain"
    plain.write_text("x")
    with pytest.raises(ControlError, match="not a socket"):
        ControlServer(plain, None).start()
    with pytest.raises(ControlError, match="no such group 'no-such-group-xyz'"):
        ControlServer(sockdir / "g.sock", "no-such-group-xyz").start()


def test_socket_mode_and_group(server):
    st = os.stat(server.path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == grp.getgrnam(GROUP).gr_gid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
def test_other_user_refused_by_file_mode(server):
    out = run_as(NOBODY, NOBODY, lambda: ControlClient(server.path).call("echo"))
    assert out.startswith("ERR ControlError: permission denied on"), out
    assert f"group ({GROUP})" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
def test_other_user_refused_by_peer_credentials(server):
    os.chmod(server.path, 0o666)  # even if somebody loosens the mode, SO_PEERCRED refuses
    out = run_as(NOBODY, NOBODY, lambda: ControlClient(server.path).call("echo"))
    assert out == f"ERR ControlError: permission denied: uid {NOBODY} is not root, the daemon's user or a member of group {GROUP}", out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
def test_group_member_admitted(server):
    gid = grp.getgrnam(GROUP).gr_gid
    out = run_as(NOBODY, gid, lambda: ControlClient(server.path).call("echo", who="member"))
    assert out == 'OK {"got": {"who": "member"}}', out
