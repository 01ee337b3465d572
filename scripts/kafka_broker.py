#!/usr/bin/env python3
"""Run real Apache Kafka 3.9.1 brokers (KRaft) for tests and local development.

The broker comes from Maven Central as jars (no Docker, no Apache mirrors here), resolved once
by scripts/kafka-broker/pom.xml into .cache/kafka-3.9.1/libs/ and launched with the JVM
directly. One node, or a cluster of several nodes from the same jars (each a broker and a
controller voter, replication factor = the number of nodes, min.insync.replicas=2).

    python scripts/kafka_broker.py fetch                            # resolve the jars only
    python scripts/kafka_broker.py start --workdir DIR [--nodes 3]  # prints "bootstrap=... pid=..."
    python scripts/kafka_broker.py restart --workdir DIR [--node N] # same data dir, same ports
    python scripts/kafka_broker.py stop --workdir DIR

Importable too: ensure_jars(), start_broker(workdir) -> Broker, start_cluster(workdir) ->
Cluster; Broker.stop(), .kill(), .restart().
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
# Any valid 16-byte id will do; a fresh start formats new data dirs with it.
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
    """One KRaft node (broker and controller in one JVM) and the files it lives on.

    ``stop`` and ``kill`` end the process; ``restart`` starts it again on its own data dir and
    ports, as an operator restarts a broker: nothing is wiped and no port changes, so clients
    that knew its address find it again.
    """

    bootstrap: str
    pid: int
    workdir: Path
    log_path: Path
    node_id: int = 1
    detach: bool = False
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid > 0 and _is_alive(self.pid)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (a clean controlled shutdown), then SIGKILL after `timeout` seconds."""
        (self.workdir / PID_FILE).unlink(missing_ok=True)
        if not self._signal(signal.SIGTERM) or self._wait(timeout):
            return
        self.kill()

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, as when a host is lost."""
        (self.workdir / PID_FILE).unlink(missing_ok=True)
        # The broker runs in its own process group (pgid == pid): take down anything it spawned.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if not self._wait(5):
            raise BrokerError(f"Kafka broker pid {self.pid} survived SIGKILL")

    def restart(self, timeout: float = 60) -> None:
        """Start the broker again on its own data dir and ports (stopping it first if it runs);
        return once it accepts clients.

        Unless detached, the new process is killed when the calling *thread* dies (see
        ``_die_with_parent_hook``): restart from a thread that outlives the broker.
        """
        if self.running:
            self.stop()
        libs, java = ensure_jars(), _java()
        proc, log_offset = _spawn(self.workdir, libs, java, self.detach)
        self.pid, self._proc = proc.pid, proc
        _await_ready([(self, log_offset)], time.monotonic() + timeout)
        if self.detach:
            self._proc = None

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


@dataclass
class Cluster:
    """Several KRaft nodes, each a broker and a voter of the controller quorum."""

    brokers: list[Broker]

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    def broker(self, node_id: int) -> Broker:
        return next(b for b in self.brokers if b.node_id == node_id)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to every node at once (one by one, the last ones would wait for a quorum
        that is gone), then SIGKILL to any still running after `timeout` seconds."""
        for broker in self.brokers:
            (broker.workdir / PID_FILE).unlink(missing_ok=True)
            broker._signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for broker in self.brokers:
            if not broker._wait(max(deadline - time.monotonic(), 0)):
                broker.kill()


@dataclass(frozen=True)
class _Node:
    node_id: int
    port: int
    controller_port: int
    workdir: Path


def _properties(node: _Node, voters: str, replicas: int) -> dict[str, str]:
    """server.properties of one node; `replicas` is the cluster's size and replication factor."""
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},"
                     f"CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.workdir / "data"),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        # The defaults (50 partitions, 3 s delay) make the first consumer group slow.
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min(replicas, 2)),
        "group.initial.rebalance.delay.ms": "0",
        # Default 128 MiB would not leave room in a 512 MiB heap.
        "log.cleaner.dedupe.buffer.size": str(4 * 1024 * 1024),
    }
    if replicas > 1:
        # What a production cluster runs with: every write on two replicas before acks=all
        # answers, so losing any one broker loses nothing and blocks nothing.
        props["default.replication.factor"] = str(replicas)
        props["min.insync.replicas"] = "2"
    return props


def _write_config(node: _Node, props: dict[str, str]) -> None:
    """A fresh node: empty data dir, its properties, and a log4j config writing one file."""
    data_dir, logs_dir = node.workdir / "data", node.workdir / "logs"
    shutil.rmtree(data_dir, ignore_errors=True)  # KRaft metadata is tied to one format: start fresh
    data_dir.mkdir(parents=True)
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / "server.log"
    log_path.unlink(missing_ok=True)
    (node.workdir / "broker.out").unlink(missing_ok=True)
    (node.workdir / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    # Everything INFO and up into one file; nothing on the console (no console appender).
    (node.workdir / "log4j.properties").write_text(
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.FileAppender\n"
        f"log4j.appender.file.File={log_path}\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\n"
    )


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class _PortTaken(BrokerError):
    pass


def _jvm(workdir: Path, libs: Path, java: str) -> list[str]:
    return [
        java,
        *JVM_FLAGS,
        f"-Dkafka.logs.dir={workdir / 'logs'}",
        f"-Dlog4j.configuration=file:{workdir / 'log4j.properties'}",
        "-cp",
        f"{libs}/*",
    ]


def _format(workdirs: list[Path], libs: Path, java: str, deadline: float) -> None:
    """Format every node's storage with the one cluster id, the nodes side by side."""
    procs = [
        subprocess.Popen(
            [*_jvm(w, libs, java), "kafka.tools.StorageTool", "format", "-t", CLUSTER_ID,
             "-c", str(w / "server.properties")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for w in workdirs
    ]
    for proc in procs:
        try:
            output, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired as exc:
            for p in procs:
                p.kill()
                p.wait()
            raise BrokerError(
                f"formatting Kafka storage timed out after {exc.timeout:.0f}s") from exc
        if proc.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed:\n{_tail(output)}")


def _spawn(
    workdir: Path, libs: Path, java: str, detach: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """Launch the node configured in `workdir`; also return where its log stood before, so
    that only a "started" line written by this launch counts."""
    log_path = workdir / "logs" / "server.log"
    log_offset = log_path.stat().st_size if log_path.is_file() else 0
    out_path = workdir / "broker.out"  # JVM stdout/stderr: crashes before log4j is up land here
    with out_path.open("ab") as out:
        proc = subprocess.Popen(
            [*_jvm(workdir, libs, java), "kafka.Kafka", str(workdir / "server.properties")],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: no terminal Ctrl-C, killpg on stop
            preexec_fn=None if detach else _die_with_parent_hook(),  # noqa: PLW1509 (only prctl)
        )
    (workdir / PID_FILE).write_text(f"{proc.pid}\n")
    return proc, log_offset


def _start_failure(broker: Broker, why: str) -> BrokerError:
    (broker.workdir / PID_FILE).unlink(missing_ok=True)
    log_path, out_path = broker.log_path, broker.workdir / "broker.out"
    log = log_path.read_text(errors="replace") if log_path.is_file() else ""
    kind = _PortTaken if "Address already in use" in log else BrokerError
    return kind(
        f"Kafka broker {broker.node_id} {why}; see {log_path}\n--- first errors ---\n"
        + _first_errors(log)
        + f"\n--- server.log tail ---\n{_tail(log, 15)}"
        + f"\n--- {out_path.name} tail ---\n{_file_tail(out_path, 10)}"
    )


def _await_ready(starting: list[tuple[Broker, int]], deadline: float) -> None:
    """Wait until every broker logged that it started (after its log offset) and accepts
    connections; on failure stop them all and raise with the logs' first errors."""
    offsets = {b.node_id: offset for b, offset in starting}
    pending = [b for b, _ in starting]
    try:
        while pending:
            for broker in list(pending):
                if not broker.running:
                    code = broker._proc.returncode if broker._proc is not None else "?"
                    raise _start_failure(broker, f"exited with code {code} during start-up")
                port = int(broker.bootstrap.rsplit(":", 1)[1])
                if _logged_ready(broker, offsets) and _port_open(port):
                    pending.remove(broker)
            if pending and time.monotonic() > deadline:
                raise _start_failure(pending[0], "not ready in time")
            if pending:
                time.sleep(0.1)
    except BrokerError:
        for broker, _ in starting:
            broker.stop(timeout=5)
        raise


def _logged_ready(broker: Broker, offsets: dict[int, int]) -> bool:
    if not broker.log_path.is_file():
        return False
    with broker.log_path.open("rb") as f:  # read only what is new since the last look
        f.seek(offsets[broker.node_id])
        chunk = f.read()
    if READY_LINE.encode() in chunk:
        return True
    # Overlap reads by a line's worth, so a line split across two reads still matches.
    offsets[broker.node_id] += max(len(chunk) - 200, 0)
    return False


def start_broker(workdir: Path, *, timeout: float = 60, detach: bool = False) -> Broker:
    """Start a fresh single-node broker with its files under `workdir`; return once it accepts
    clients. Unless `detach`, the broker is killed when the calling process dies."""
    return _start_fresh(workdir.resolve(), 1, timeout, detach)[0]


def start_cluster(workdir: Path, nodes: int = 3, *, timeout: float = 90,
                  detach: bool = False) -> Cluster:
    """Start a fresh cluster of `nodes` KRaft nodes (each a broker and a controller voter) with
    replication factor `nodes` and min.insync.replicas=2; node N lives in `workdir`/node-N."""
    return Cluster(_start_fresh(workdir.resolve(), nodes, timeout, detach))


def _start_fresh(workdir: Path, nodes: int, timeout: float, detach: bool) -> list[Broker]:
    workdir.mkdir(parents=True, exist_ok=True)
    libs, java = ensure_jars(), _java()
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        try:
            return _launch(workdir, nodes, libs, java, deadline, detach)
        except _PortTaken:
            # Free ports are only free until the JVM binds them, seconds later: pick others.
            if attempt == 2 or time.monotonic() > deadline:
                raise
    raise AssertionError("unreachable")


def _launch(workdir: Path, nodes: int, libs: Path, java: str, deadline: float,
            detach: bool) -> list[Broker]:
    ports = _free_ports(2 * nodes)
    cluster = [
        _Node(i + 1, ports[2 * i], ports[2 * i + 1],
              workdir if nodes == 1 else workdir / f"node-{i + 1}")
        for i in range(nodes)
    ]
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster)
    for node in cluster:
        _write_config(node, _properties(node, voters, nodes))
    _format([n.workdir for n in cluster], libs, java, deadline)
    starting = []
    for node in cluster:
        proc, offset = _spawn(node.workdir, libs, java, detach)
        broker = Broker(f"127.0.0.1:{node.port}", proc.pid, node.workdir,
                        node.workdir / "logs" / "server.log", node.node_id, detach, proc)
        starting.append((broker, offset))
    _await_ready(starting, deadline)
    brokers = [b for b, _ in starting]
    if detach:
        for broker in brokers:
            broker._proc = None
    return brokers


def _node_dirs(workdir: Path) -> list[Path]:
    """The node dirs under `workdir`: itself for a single broker, node-N for a cluster."""
    if (workdir / "server.properties").is_file():
        return [workdir]
    dirs = sorted(d for d in workdir.glob("node-*") if (d / "server.properties").is_file())
    if not dirs:
        raise BrokerError(f"no broker was ever started in {workdir}")
    return dirs


def _broker_in(node_dir: Path) -> Broker:
    """The broker configured in `node_dir`, with its pid if it is running (else pid 0)."""
    props = (node_dir / "server.properties").read_text()
    listener = re.search(r"^listeners=PLAINTEXT://([^,\n]+)", props, re.M)
    node_id = re.search(r"^node\.id=(\d+)", props, re.M)
    return Broker(listener.group(1) if listener else "?", _running_pid(node_dir), node_dir,
                  node_dir / "logs" / "server.log", int(node_id.group(1)) if node_id else 1,
                  detach=True)


def _running_pid(node_dir: Path) -> int:
    """The pid in `node_dir`'s pid file if that process is this dir's broker, else 0."""
    try:
        pid = int((node_dir / PID_FILE).read_text().strip())
    except FileNotFoundError:
        return 0
    except ValueError:
        raise BrokerError(f"{node_dir / PID_FILE} does not hold a pid") from None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        cmdline = ""
    # Guard against pid reuse: only signal the JVM that runs this dir's broker.
    if not _is_alive(pid) or "kafka.Kafka" not in cmdline or str(node_dir) not in cmdline:
        return 0
    return pid


def _start_command(workdir: Path, nodes: int, timeout: float) -> str:
    if (workdir / "server.properties").is_file() or list(workdir.glob("node-*")):
        running = [b for b in map(_broker_in, _node_dirs(workdir)) if b.pid]
        if running:
            raise BrokerError(
                f"a broker is already running in {workdir} "
                f"(bootstrap={running[0].bootstrap} pid={running[0].pid}); stop it first"
            )
    if nodes == 1:
        broker = start_broker(workdir, timeout=timeout, detach=True)
        return f"bootstrap={broker.bootstrap} pid={broker.pid}"
    cluster = start_cluster(workdir, nodes, timeout=timeout, detach=True)
    return f"bootstrap={cluster.bootstrap} pids={','.join(str(b.pid) for b in cluster.brokers)}"


def _stop_command(workdir: Path) -> str:
    brokers = list(map(_broker_in, _node_dirs(workdir)))
    Cluster([b for b in brokers if b.pid]).stop()
    return "\n".join(
        f"node {b.node_id}: " + (f"stopped pid={b.pid}" if b.pid else "not running")
        for b in brokers
    )


def _restart_command(workdir: Path, node: int | None, timeout: float) -> str:
    brokers = [b for b in map(_broker_in, _node_dirs(workdir)) if node in (None, b.node_id)]
    if not brokers:
        raise BrokerError(f"no node {node} in {workdir}")
    lines = []
    for broker in brokers:  # one by one, as a rolling restart goes
        broker.restart(timeout=timeout)
        lines.append(f"node {broker.node_id}: bootstrap={broker.bootstrap} pid={broker.pid}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="resolve the broker jars into the cache only")
    helps = {
        "start": "start fresh detached broker(s) whose files live in --workdir",
        "stop": "stop the broker(s) of --workdir",
        "restart": "restart the broker(s) of --workdir on their own data and ports",
    }
    for name, help_ in helps.items():
        p = sub.add_parser(name, help=help_)
        p.add_argument("--workdir", type=Path, required=True)
    sub.choices["start"].add_argument("--nodes", type=int, default=1,
                                      help="1 for a single broker (default), 3 for a cluster")
    sub.choices["restart"].add_argument("--node", type=int, default=None,
                                        help="only this node id (default: every node)")
    for name in ("start", "restart"):
        sub.choices[name].add_argument("--timeout", type=float, default=60,
                                       help="seconds to wait (default 60)")
    args = parser.parse_args(argv)

    try:
        if args.command == "fetch":
            libs = ensure_jars()
            print(f"libs={libs} jars={len(list(libs.glob('*.jar')))}")
        elif args.command == "start":
            print(_start_command(args.workdir.resolve(), args.nodes, args.timeout))
        elif args.command == "stop":
            print(_stop_command(args.workdir.resolve()))
        else:
            print(_restart_command(args.workdir.resolve(), args.node, args.timeout))
    except BrokerError as exc:
        # One line on stderr; a log tail, when there is one, follows on the next lines.
        print(f"kafka_broker: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
