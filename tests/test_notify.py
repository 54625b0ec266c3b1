"""sd_notify over a real datagram socket."""

from __future__ import annotations

import os
import socket

import pytest

from plategate.notify import Notifier


def test_notifier_sends_to_the_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(1)
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())})
    assert n.watchdog_interval_s == 2.0
    assert n.ready("running")
    assert server.recv(100) == b"READY=1\nSTATUS=running"
    assert n.watchdog()
    assert server.recv(100) == b"WATCHDOG=1"
    n.close()
    server.close()


def test_notifier_without_systemd_is_a_no_op():
    n = Notifier({})
    assert not n.enabled and not n.ready() and n.watchdog_interval_s is None


def test_watchdog_for_another_pid_is_ignored():
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None


def test_a_full_notify_queue_never_blocks_the_daemon(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)  # nobody reads: the kernel queue fills up
    n = Notifier({"NOTIFY_SOCKET": path})
    results = [n.watchdog() for _ in range(200)]
    assert results[0] is True and results[-1] is False  # dropped, not blocked
    n.close()
    server.close()



@pytest.fixture
def systemd_socket(tmp_path):
    """A datagram socket standing in for systemd's notify socket: yields (path, socket)."""
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(1)
    yield path, server
    server.close()


def test_watchdog_off_sends_no_pings_and_turns_the_units_watchdog_off(systemd_socket):
    path, server = systemd_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}, watchdog=False)
    assert n.watchdog_interval_s is None
    assert n.ready("running")
    assert server.recv(100) == b"READY=1\nSTATUS=running\nWATCHDOG_USEC=0"
    assert not n.watchdog()
    assert n.status("still here")
    assert server.recv(100) == b"STATUS=still here"  # no WATCHDOG=1 went before it
    n.close()


def test_watchdog_off_without_a_unit_watchdog_sends_plain_ready(systemd_socket):
    path, server = systemd_socket
    n = Notifier({"NOTIFY_SOCKET": path}, watchdog=False)
    assert n.ready()
    assert server.recv(100) == b"READY=1"
    n.close()
