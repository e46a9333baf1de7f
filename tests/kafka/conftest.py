"""Fixtures for the Kafka-facing tests that need Apache Kafka (the reference broker).

Tests marked `apache_only` use a feature Tansu lacks (DESIGN §6); the root conftest skips them, with
the reason, unless the run's broker is Apache Kafka (`CONVSYNC_TEST_KAFKA=apache`, which `python3 tasks.py test`
runs as the second leg of its matrix).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.apache_kafka import ApacheKafka
from tests.support.infra import broker_kind

SKIP_REASON = ("needs Apache Kafka (CONVSYNC_TEST_KAFKA=apache; run by `python3 tasks.py test`): "
               "the broker of this run is {kind}")


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    """An Apache Kafka node of this module's own, free to be killed and restarted (tests use topics
    and groups of their own on it). Started only for Apache Kafka runs: elsewhere its tests skip."""
    if broker_kind() != "apache":
        pytest.skip(SKIP_REASON.format(kind=broker_kind()))
    broker = ApacheKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    broker.stop()
