#!/usr/bin/env python3
"""Run a real single-node Apache Kafka 3.9.1 broker (KRaft) for tests and local development.

The broker comes from Maven Central as jars (no Docker, no Apache mirrors here), resolved once by
scripts/kafka/pom.xml into .cache/kafka-3.9.1/libs/ and launched with the JVM directly.

    python scripts/kafka_broker.py fetch                  # resolve the jars only
    python scripts/kafka_broker.py start --workdir DIR    # prints "bootstrap=127.0.0.1:PORT pid=N"
    python scripts/kafka_broker.py stop --workdir DIR

Importable too: ensure_jars(), start_broker(workdir) -> Broker, Broker.stop().
Standard library only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

KAFKA_VERSION = "3.9.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
POM = REPO_ROOT / "scripts" / "kafka-broker" / "pom.xml"
LIBS_DIR = REPO_ROOT / ".cache" / f"kafka-{KAFKA_VERSION}" / "libs"
# Written last into the libs dir: its presence (with the pom's hash) marks a complete fetch, and a
# changed pom invalidates the cache.
STAMP_NAME = ".pom-sha256"
# Any valid 16-byte id will do; a test broker's data dir is thrown away on every start.
CLUSTER_ID = "cGVhY2V3YXRjaC10ZXN0MQ"  # urlsafe base64 of b"peacewatch-test1"
READY_LINE = "Kafka Server started"
PID_FILE = "broker.pid"
JVM_FLAGS = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
)
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BrokerError(RuntimeError):
    """Fetching, starting or stopping the broker failed; the message says why."""


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(_ANSI.sub("", text).rstrip().splitlines()[-lines:])


def _file_tail(path: Path, lines: int = 30) -> str:
    try:
        return _tail(path.read_text(errors="replace"), lines)
    except OSError:
        return f"({path} not readable)"


def _first_errors(log: str, n: int = 5) -> str:
    """The first ERROR lines, each with the exception line under it: the tail of a failed
    start-up is mostly the orderly shutdown that followed the cause."""
    lines, found = log.splitlines(), []
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            nxt = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith("[") else ""
            found.append(line[:300] + (f"\n    {nxt[:300]}" if nxt else ""))
    return "\n".join(found[:n]) or "(none)"


def _pom_hash() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def ensure_jars() -> Path:
    """Return the directory holding the broker's runtime jars, running Maven only if needed."""
    pom_hash = _pom_hash()
    stamp = LIBS_DIR / STAMP_NAME
    if stamp.is_file() and stamp.read_text().strip() == pom_hash:
        return LIBS_DIR
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka jars")
    # Copy into a private dir and rename it into place, so that concurrent callers (two test
    # sessions, xdist workers) never see a half-filled libs dir.
    LIBS_DIR.parent.mkdir(parents=True, exist_ok=True)
    tmp = LIBS_DIR.parent / f"libs.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (tmp / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise BrokerError(
            f"fetching Kafka jars failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            + _tail(proc.stdout + proc.stderr)
        )
    (tmp / STAMP_NAME).write_text(pom_hash + "\n")
    if LIBS_DIR.exists():  # stale (pom changed) or just completed by a concurrent caller
        if (LIBS_DIR / STAMP_NAME).is_file() and (
            LIBS_DIR / STAMP_NAME
        ).read_text().strip() == pom_hash:
            shutil.rmtree(tmp, ignore_errors=True)
            return LIBS_DIR
        shutil.rmtree(LIBS_DIR, ignore_errors=True)
    try:
        tmp.rename(LIBS_DIR)
    except OSError:  # lost a race to an identical fetch
        shutil.rmtree(tmp, ignore_errors=True)
    return LIBS_DIR


def _free_ports(n: int) -> list[int]:
    # Hold all sockets open together so that the n ports are distinct.
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise BrokerError("no 'java' found (set JAVA_HOME or put Java 17 on PATH)")
    return java


def _is_alive(pid: int) -> bool:
    # A zombie still answers kill(pid, 0), so also look at its state in /proc.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn making the kernel SIGTERM the broker when the process (strictly: the thread)
    that started it dies, so a killed test run does not leave a JVM behind."""
    if sys.platform != "linux":
        return None
    # Look prctl up here, before fork: the child then runs no loader code that could deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Broker:
    bootstrap: str
    pid: int
    workdir: Path
    log_path: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (a clean controlled shutdown), then SIGKILL after `timeout` seconds."""
        if not self._signal(signal.SIGTERM) or self._wait(timeout):
            return
        # The broker runs in its own process group (pgid == pid): take down anything it spawned.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if not self._wait(5):
            raise BrokerError(f"Kafka broker pid {self.pid} survived SIGKILL")

    def _signal(self, sig: signal.Signals) -> bool:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _wait(self, timeout: float) -> bool:
        if self._proc is not None:  # our child: reap it, or it lingers as a zombie
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while _is_alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def _write_config(workdir: Path, port: int, controller_port: int) -> tuple[Path, Path, Path]:
    data_dir, logs_dir = workdir / "data", workdir / "logs"
    shutil.rmtree(data_dir, ignore_errors=True)  # KRaft metadata is tied to one format: start fresh
    data_dir.mkdir(parents=True)
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / "server.log"
    log_path.unlink(missing_ok=True)  # a previous run's "started" line must not count as ready
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        # The defaults (50 partitions, rf 3, 3 s delay) make the first consumer group slow or
        # impossible on one node.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Default 128 MiB would not leave room in a 512 MiB heap.
        "log.cleaner.dedupe.buffer.size": str(4 * 1024 * 1024),
    }
    server_props = workdir / "server.properties"
    server_props.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    log4j = workdir / "log4j.properties"
    # Everything INFO and up into one file; nothing on the console (no console appender).
    log4j.write_text(
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.FileAppender\n"
        f"log4j.appender.file.File={log_path}\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\n"
    )
    return server_props, log4j, log_path


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class _PortTaken(BrokerError):
    pass


def start_broker(workdir: Path, *, timeout: float = 60, detach: bool = False) -> Broker:
    """Start a fresh broker with its files under `workdir`; return once it accepts clients.

    Unless `detach`, the broker is killed when the calling process dies (no orphaned JVMs).
    """
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    libs, java = ensure_jars(), _java()
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        try:
            return _launch(workdir, libs, java, deadline, detach)
        except _PortTaken:
            # Free ports are only free until the JVM binds them, seconds later: pick others.
            if attempt == 2 or time.monotonic() > deadline:
                raise
    raise AssertionError("unreachable")


def _launch(workdir: Path, libs: Path, java: str, deadline: float, detach: bool) -> Broker:
    port, controller_port = _free_ports(2)
    server_props, log4j, log_path = _write_config(workdir, port, controller_port)
    base = [
        java,
        *JVM_FLAGS,
        f"-Dkafka.logs.dir={log_path.parent}",
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{libs}/*",
    ]
    fmt_cmd = [*base, "kafka.tools.StorageTool", "format", "-t", CLUSTER_ID]
    try:
        fmt = subprocess.run(
            [*fmt_cmd, "-c", str(server_props)],
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 1),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"formatting Kafka storage timed out after {exc.timeout:.0f}s") from exc
    if fmt.returncode != 0:
        raise BrokerError(f"formatting Kafka storage failed:\n{_tail(fmt.stdout + fmt.stderr)}")

    out_path = workdir / "broker.out"  # JVM stdout/stderr: crashes before log4j is up land here
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [*base, "kafka.Kafka", str(server_props)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: no terminal Ctrl-C, killpg on stop
            preexec_fn=None if detach else _die_with_parent_hook(),  # noqa: PLW1509 (only prctl)
        )
    broker = Broker(f"127.0.0.1:{port}", proc.pid, workdir, log_path, None if detach else proc)
    (workdir / PID_FILE).write_text(f"{proc.pid}\n")

    def fail(why: str) -> BrokerError:
        (workdir / PID_FILE).unlink(missing_ok=True)
        log = log_path.read_text(errors="replace") if log_path.is_file() else ""
        kind = _PortTaken if "Address already in use" in log else BrokerError
        return kind(
            f"Kafka broker {why}; see {log_path}\n--- first errors ---\n"
            + _first_errors(log)
            + f"\n--- server.log tail ---\n{_tail(log, 15)}"
            + f"\n--- {out_path.name} tail ---\n{_file_tail(out_path, 10)}"
        )

    offset, seen_ready = 0, False
    while True:
        if proc.poll() is not None:
            raise fail(f"exited with code {proc.returncode} during start-up")
        if not seen_ready and log_path.is_file():
            with log_path.open("rb") as f:  # read only what is new since the last look
                f.seek(offset)
                chunk = f.read()
            seen_ready = READY_LINE.encode() in chunk
            # Overlap reads by a line's worth, so a line split across two reads still matches.
            offset += max(len(chunk) - 200, 0)
        if seen_ready and _port_open(port):
            return broker
        if time.monotonic() > deadline:
            broker._proc = proc  # so that stop() reaps it, even when detached
            broker.stop(timeout=5)
            raise fail("not ready in time")
        time.sleep(0.1)


def _broker_from_pidfile(workdir: Path) -> Broker | None:
    """The broker recorded in workdir's pid file, or None if it is no longer running."""
    pid_file = workdir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        if (workdir / "server.properties").is_file():
            return None  # stopped already (or crashed during start-up): nothing to do
        raise BrokerError(f"no broker was ever started in {workdir}") from None
    except ValueError:
        raise BrokerError(f"{pid_file} does not hold a pid") from None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        cmdline = ""
    # Guard against pid reuse: only signal the JVM that runs this workdir's broker.
    if not _is_alive(pid) or "kafka.Kafka" not in cmdline or str(workdir) not in cmdline:
        return None
    props = (workdir / "server.properties").read_text()
    port = re.search(r"^listeners=PLAINTEXT://([^,\n]+)", props, re.M)
    bootstrap = port.group(1) if port else "?"
    return Broker(bootstrap, pid, workdir, workdir / "logs" / "server.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="resolve the broker jars into the cache only")
    for name in ("start", "stop"):
        p = sub.add_parser(name, help=f"{name} a detached broker whose files live in --workdir")
        p.add_argument("--workdir", type=Path, required=True)
    start = sub.choices["start"]
    start.add_argument("--timeout", type=float, default=60, help="seconds to wait (default 60)")
    args = parser.parse_args(argv)

    try:
        if args.command == "fetch":
            libs = ensure_jars()
            print(f"libs={libs} jars={len(list(libs.glob('*.jar')))}")
        elif args.command == "start":
            workdir = args.workdir.resolve()
            if (workdir / "server.properties").is_file() and (
                running := _broker_from_pidfile(workdir)
            ):
                raise BrokerError(
                    f"a broker is already running in {workdir} "
                    f"(bootstrap={running.bootstrap} pid={running.pid}); stop it first"
                )
            broker = start_broker(workdir, timeout=args.timeout, detach=True)
            print(f"bootstrap={broker.bootstrap} pid={broker.pid}")
        else:
            workdir = args.workdir.resolve()
            broker_or_none = _broker_from_pidfile(workdir)
            (workdir / PID_FILE).unlink(missing_ok=True)
            if broker_or_none is None:
                print("not running")
            else:
                broker_or_none.stop()
                print(f"stopped pid={broker_or_none.pid}")
    except BrokerError as exc:
        # One line on stderr; a log tail, when there is one, follows on the next lines.
        print(f"kafka_broker: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
