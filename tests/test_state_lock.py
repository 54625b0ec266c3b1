"""One daemon per state directory: a second plategated on the same state exits at once with
a clear message; the first keeps running; the lock dies with its holder (kill -9)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import pytest

from plategate.errors import PlategateError
from plategate.statelock import AlreadyRunning, StateLock
from tests.cli_support import short_dir, write_frames
from tests.daemon_process import DaemonProcess, daemon_config


@pytest.fixture
def root():
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_second_daemon_on_the_same_state_exits_non_zero(root):
    frames = write_frames(root / "frames", moving=False)
    first_cfg = root / "first.toml"
    first_cfg.write_text(daemon_config(root, frames))
    # the second has its own control socket: only the state directory is shared
    second_cfg = root / "second.toml"
    second_cfg.write_text(daemon_config(root, frames).replace(str(root / "control.sock"), str(root / "other.sock")))
    first = DaemonProcess(first_cfg)
    try:
        first.wait_ready(root / "control.sock")
        done = subprocess.run([sys.executable, "-m", "plategate.service", "--config", str(second_cfg)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert f"another plategated (pid {first.proc.pid}) is already running on state_dir {root / 'state'}" \
            in done.stderr
        assert not (root / "other.sock").exists()  # it stopped before opening anything
        assert first.client(root / "control.sock").call("status")["state"] == "running"
    finally:
        assert first.stop() == 0


def test_the_lock_is_released_when_its_holder_is_killed(root):
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames))
    first = DaemonProcess(cfg)
    first.wait_ready(root / "control.sock")
    first.proc.send_signal(signal.SIGKILL)
    first.stop()
    lock = StateLock(root / "state")
    lock.acquire()  # no stale lock: the kernel dropped it with the process
    try:
        with pytest.raises(AlreadyRunning, match=r"pid \d+"):
            StateLock(root / "state").acquire()
    finally:
        lock.release()


def test_an_unusable_state_dir_is_a_clear_error(root):
    blocker = root / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PlategateError, match="state_dir .*file/sub: cannot create the lock file"):
        StateLock(blocker / "sub").acquire()
