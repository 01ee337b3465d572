"""`peacewatch run` serves the board on 127.0.0.1 beside the pipeline, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_the_board_on_loopback_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PEACEWATCH_DATA_DIR": str(tmp_path),
           "PEACEWATCH_DESK__PORT": str(port), "PEACEWATCH_METRICS__PORT": "0",
           "PEACEWATCH_COLLECTORS__POLL_FEEDS": "false",
           "PEACEWATCH_COLLECTORS__DOCUMENTS": "[]",
           "PEACEWATCH_COLLECTORS__BASELINE_DOCUMENTS": "[]"}
    proc = subprocess.Popen([sys.executable, "-m", "peacewatch.cli", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, board = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                board = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert board is not None and board.status_code == 200, "the board was not served"
        assert "<h1>Board</h1>" in board.text and "Black Sea" in board.text
        listening = [c for c in _listeners(port)]
        assert listening and all(addr.startswith("127.0.0.1") for addr in listening)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, output
        assert "running stages: collectors, classify, stories, alerts, record, web" in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _listeners(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc, no tool needed)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            host, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                octets = [str(int(host[i:i + 2], 16)) for i in range(6, -1, -2)] \
                    if len(host) == 8 else ["::"]
                out.append(".".join(octets))
    return out
