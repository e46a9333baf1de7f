"""The aiokafka internals the edge relies on are all there (kernel.aiokafka_wire)."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from kernel.aiokafka_wire import missing


def test_this_aiokafka_has_every_internal_the_edge_uses() -> None:
    gone = missing()
    assert not gone, f"aiokafka moved what kernel/aiokafka_wire.py uses: {', '.join(gone)}"


def test_a_moved_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AIOKafkaProducer, "partitions_for")
    assert missing() == ["AIOKafkaProducer.partitions_for"]
