"""Benchmark plategate-web: resident memory, idle CPU and page times, and print the figures.

A real plategated (replay camera on still frames, mock pins, the shipped models) runs in
this process; plategate-web runs as its own process, as under systemd, and is measured
from /proc: RSS after start, CPU while idle, then the time of each page and the RSS and
CPU while a browser-like client loads the dashboard, events, allowlist and live data.

Usage::

    python -m tools.eval.bench_web [--idle 10] [--requests 50]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import cv2
import numpy as np

PAGES = ("/", "/events", "/allowlist", "/live.json", "/status.json")


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds used so far) of process *pid*."""
    with open(f"/proc/{pid}/status") as fh:
        rss_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(root: Path):
    from gpiozero.pins.mock import MockFactory

    from plategate.config import parse_config
    from plategate.service import Service

    frames = root / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"f{i}.png"), np.full((720, 1280, 3), 90 + i, np.uint8))
    cfg = parse_config({"state_dir": str(root / "state"), "control": {"socket": str(root / "c.sock"), "group": ""},
                        "camera": {"backend": "replay", "source": str(frames), "fps": 10, "loop": True},
                        "gate": {"pin_factory": "mock"}})
    service = Service(cfg, pin_factory=MockFactory())
    service.start()
    threading.Thread(target=service.run, daemon=True).start()
    return service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.eval.bench_web", description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    parser.add_argument("--requests", type=int, default=50, help="requests per page")
    args = parser.parse_args(argv)
    from plategate.web.auth import set_password

    root = Path(tempfile.mkdtemp(prefix="pgbench-"))
    service = start_daemon(root)
    port = free_port()
    password = "benchmark password"
    set_password(root / "web.passwd", "bench", password)
    cfg = root / "web.toml"
    cfg.write_text(f'state_dir = "{root / "state"}"\n[control]\nsocket = "{root / "c.sock"}"\ngroup = ""\n'
                   f'[web]\nport = {port}\npassword_file = "{root / "web.passwd"}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "plategate.web.server", "-c", str(cfg), "--log-level", "WARNING"],
                            stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()  # "listening on ..."
        base = f"http://127.0.0.1:{port}"
        rss_start, cpu0 = proc_stats(proc.pid)
        time.sleep(args.idle)
        rss_idle, cpu1 = proc_stats(proc.pid)
        print(f"plategate-web RSS after start: {rss_start:.1f} MB")
        print(f"idle CPU over {args.idle:.0f} s: {100 * (cpu1 - cpu0) / args.idle:.2f} % of one core "
              f"(RSS {rss_idle:.1f} MB)")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        t0 = time.perf_counter()
        opener.open(base + "/login", urllib.parse.urlencode(
            {"user": "bench", "password": password, "csrf": token}).encode()).read()
        print(f"login (Argon2id verify): {1000 * (time.perf_counter() - t0):.0f} ms")
        _, cpu2 = proc_stats(proc.pid)
        wall = time.perf_counter()
        for path in PAGES:
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                opener.open(base + path).read()
                times.append(1000 * (time.perf_counter() - t))
            print(f"GET {path:<13} median {statistics.median(times):6.1f} ms, max {max(times):6.1f} ms")
        wall = time.perf_counter() - wall
        rss_load, cpu3 = proc_stats(proc.pid)
        print(f"under load: RSS {rss_load:.1f} MB, CPU {100 * (cpu3 - cpu2) / wall:.0f} % of one core "
              f"for {len(PAGES) * args.requests} requests in {wall:.1f} s")
    finally:
        proc.terminate()
        proc.wait(20)
        service.request_stop()
        service.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
