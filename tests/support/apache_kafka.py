"""Apache Kafka for tests: the official broker jars from Maven Central, one KRaft node on loopback.

Tansu (the embedded default) keeps topics in memory and lacks the idempotent producer, true end
offsets and the admin group-offset call; Apache Kafka is the reference broker that shows those, and
durability across a crash. Nothing is installed: `mvn` copies `org.apache.kafka:kafka_2.13` and its
runtime dependencies into a cache outside the repository (`~/.cache/convsync/kafka-<version>/`, or
`$CONVSYNC_KAFKA_CACHE`) once; later runs find the cache complete and use no network.

    broker = ApacheKafka(tmp / "kafka")   # log dir, config and broker.log live under this folder
    broker.start()                        # format storage (first start only), launch, wait until it answers
    broker.kill()                         # SIGKILL: a crash
    broker.start()                        # the same node on the same ports and log dir
    broker.stop()                         # SIGTERM (controlled shutdown), SIGKILL after a timeout

The JVM is started with PR_SET_PDEATHSIG from the calling thread (call `start` from the main thread,
also in async tests), so it never outlives the test process.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from convsync.embedded import EmbeddedError, _die_with_parent, _port_open, _stop, free_port

KAFKA_VERSION = "4.1.2"  # Java 17+ (the machine has 17); KRaft only
POM = Path(__file__).parent / "kafka" / "pom.xml"
HEAP = "512m"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
JVM_OPTIONS = (
    f"-Xmx{HEAP}", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",  # fast start on 2 cores
    "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
)
LOG4J2 = """\
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
"""


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    root = os.environ.get("CONVSYNC_KAFKA_CACHE") or Path.home() / ".cache" / "convsync"
    return Path(root) / f"kafka-{version}"


def broker_jars(version: str = KAFKA_VERSION) -> Path:
    """The folder holding the broker's jars, fetched with mvn the first time (under a file lock, so
    parallel test runs fetch once; into a temporary folder renamed at the end, so no half cache)."""
    target = cache_dir(version)
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".kafka-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _fetch(version, target)
    return target


def _fetch(version: str, target: Path) -> None:
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise EmbeddedError("Apache Kafka for tests needs `java` (17+) and `mvn` on PATH")
    staging = Path(tempfile.mkdtemp(prefix=f".kafka-{version}-", dir=target.parent))
    command = ["mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
               f"-Dkafka.version={version}", f"-DoutputDirectory={staging}"]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not any(staging.glob(f"kafka_2.13-{version}.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedError(f"fetching Apache Kafka {version} failed: {' '.join(command)}\n"
                            f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    (staging / ".complete").write_text(version)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def new_cluster_id() -> str:
    """A Kafka Uuid as the storage tool expects it: 16 random bytes, URL-safe base64, no padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(log_dir: Path, port: int, controller_port: int) -> str:
    """One combined broker+controller with every internal topic at replication factor 1."""
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        f"log.dirs={log_dir}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=4",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # A restart after SIGKILL waits until the dead incarnation's session expires (9 s by default).
        "broker.session.timeout.ms=2000",
        "broker.heartbeat.interval.ms=500",
        "auto.create.topics.enable=false",
        "",
    ])


async def _answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        await admin.close()


def answers(bootstrap: str) -> bool:
    """Whether the broker answers a metadata request. Runs its own event loop in a helper thread, so
    it also works from inside an async test (whose loop is running in this thread)."""
    result: list[bool] = []
    helper = threading.Thread(target=lambda: result.append(asyncio.run(_answers(bootstrap))))
    helper.start()
    helper.join()
    return bool(result and result[0])


@dataclass
class ApacheKafka:
    """One Apache Kafka KRaft node (broker+controller) with its log dir under `data_dir`."""

    data_dir: Path
    version: str = KAFKA_VERSION
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def start(self) -> None:
        """Start the node; the first start formats the storage, later ones reuse the log dir."""
        if self.proc is not None and self.proc.poll() is None:
            raise EmbeddedError("Apache Kafka is already running")
        jars = broker_jars(self.version)
        self._configure()
        if not (self.log_dir / "meta.properties").exists():
            self._java(jars, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(),
                       "-c", str(self.data_dir / "server.properties"), wait=True)
        self.proc = self._java(jars, "kafka.Kafka", str(self.data_dir / "server.properties"))
        self._wait_until_ready()

    def stop(self) -> None:
        """Controlled shutdown; SIGKILL if it takes longer than STOP_TIMEOUT_S."""
        _stop(self.proc, signal.SIGTERM, timeout_s=STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL, as in a crash: no controlled shutdown, no flush beyond what the OS already has."""
        _stop(self.proc, signal.SIGKILL, timeout_s=STOP_TIMEOUT_S)

    def _configure(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log4j2.properties").write_text(LOG4J2)
        (self.data_dir / "server.properties").write_text(
            server_properties(self.log_dir, self.port, self.controller_port))

    def _java(self, jars: Path, main: str, *args: str, wait: bool = False) -> subprocess.Popen[bytes]:
        logging = f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}"
        command = ["java", *JVM_OPTIONS, logging, "-cp", f"{jars}/*", main, *args]
        with open(self.log_path, "ab") as logfile:
            proc = subprocess.Popen(
                command, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=lambda: _die_with_parent(signal.SIGKILL), start_new_session=True,
            )
        if wait and proc.wait(START_TIMEOUT_S) != 0:
            raise EmbeddedError(f"{main} {args[0]} failed; see {self.log_path}")
        return proc

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedError(f"Apache Kafka exited with {self.proc.returncode}; see {self.log_path}")
            if _port_open(self.port) and answers(self.bootstrap):
                return
            time.sleep(0.2)
        self.stop()
        raise EmbeddedError(f"Apache Kafka did not answer within {START_TIMEOUT_S:.0f}s; see {self.log_path}")
