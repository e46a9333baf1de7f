"""The infrastructure a test run uses: embedded by default, or real when the environment says so.

- `CONVSYNC_DATABASE_URL` / `CONVSYNC_KAFKA_BOOTSTRAP` set: use them, start nothing for that part.
- `CONVSYNC_TEST_KAFKA=tansu` (default) starts Tansu; `apache` starts Apache Kafka (tests/support/apache_kafka.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from convsync.embedded import Postgres, Tansu, free_port
from kernel.settings import KafkaSettings


@dataclass
class Infra:
    database_url: str  # the maintenance database; tests get their own copies of the template
    kafka: KafkaSettings
    broker_kind: str  # "tansu" | "apache" | "external"
    postgres: Postgres | None = None
    broker: object | None = None

    def test_kafka(self, partitions: int = 4) -> KafkaSettings:
        """Kafka settings under a fresh topic prefix: topics that no other test touches."""
        return replace(self.kafka, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", events_partitions=partitions,
                       raw_partitions=partitions)


def broker_kind() -> str:
    if os.environ.get("CONVSYNC_KAFKA_BOOTSTRAP"):
        return "external"
    kind = os.environ.get("CONVSYNC_TEST_KAFKA", "tansu")
    if kind not in {"tansu", "apache"}:
        raise RuntimeError(f"CONVSYNC_TEST_KAFKA must be tansu or apache, not {kind!r}")
    return kind


@contextmanager
def start_infra(data_dir: Path) -> Iterator[Infra]:
    with ExitStack() as cleanup:
        postgres: Postgres | None = None
        database_url = os.environ.get("CONVSYNC_DATABASE_URL")
        if not database_url:
            postgres = Postgres(pgdata=data_dir / "pgdata", port=free_port())
            postgres.start()
            cleanup.callback(postgres.stop)
            database_url = postgres.url
        kind = broker_kind()
        broker: object | None = None
        if kind == "external":
            kafka = KafkaSettings(bootstrap=os.environ["CONVSYNC_KAFKA_BOOTSTRAP"],
                                  idempotence=os.environ.get("CONVSYNC_KAFKA_IDEMPOTENCE", "true") != "false")
        elif kind == "apache":
            from tests.support.apache_kafka import ApacheKafka

            apache = ApacheKafka(data_dir / "kafka")
            apache.start()
            cleanup.callback(apache.stop)
            broker, kafka = apache, KafkaSettings(bootstrap=apache.bootstrap, idempotence=True)
        else:
            tansu = Tansu(port=free_port(), log_path=data_dir / "tansu.log")
            tansu.start()
            cleanup.callback(tansu.stop)
            broker, kafka = tansu, KafkaSettings(bootstrap=tansu.bootstrap, idempotence=False)
        yield Infra(database_url, kafka, kind, postgres, broker)
