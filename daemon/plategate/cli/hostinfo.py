"""Facts about the host platectl runs on: CPU temperature, throttling, clock sync, disk."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")

# Bits of `vcgencmd get_throttled` (Raspberry Pi firmware).
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


def cpu_temperature(path: Path = THERMAL) -> float | None:
    """CPU temperature in degrees Celsius, or ``None`` where the kernel does not report one."""
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def decode_throttled(value: int) -> list[str]:
    """The conditions set in a ``get_throttled`` bit mask."""
    return [text for bit, text in THROTTLE_BITS.items() if value & (1 << bit)]


def throttled() -> dict | None:
    """``{"raw": "0x50000", "now": [...], "past": [...]}`` from vcgencmd, ``None`` off a Pi."""
    exe = shutil.which("vcgencmd")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=3, check=True).stdout
        value = int(out.strip().split("=", 1)[1], 16)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    flags = decode_throttled(value)
    return {"raw": hex(value), "now": [f for f in flags if f.endswith("now")],
            "past": [f for f in flags if f.endswith("occurred")]}


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (x86_64 / aarch64 layout: longs are 64-bit)
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_pad", ctypes.c_int * 11)]


STA_UNSYNC = 0x0040
TIME_ERROR = 5


def kernel_clock_synchronised() -> bool | None:
    """Ask the kernel (adjtimex, read-only) whether NTP has disciplined the clock."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC


def clock_synchronised() -> tuple[bool | None, str]:
    """Whether the system clock is NTP-synchronised, and how that was found out.

    Asks systemd (``timedatectl show -p NTPSynchronized``) first, then the kernel.
    """
    exe = shutil.which("timedatectl")
    if exe is not None:
        try:
            proc = subprocess.run([exe, "show", "-p", "NTPSynchronized", "--value"],
                                  capture_output=True, text=True, timeout=5)
            value = proc.stdout.strip()
            if proc.returncode == 0 and value in ("yes", "no"):
                return value == "yes", "timedatectl"
        except (OSError, subprocess.SubprocessError):
            pass
    synced = kernel_clock_synchronised()
    return synced, "kernel adjtimex" if synced is not None else "unknown"
