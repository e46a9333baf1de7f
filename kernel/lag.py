"""How far a consumer group is behind on a topic: the partitions' end offsets minus its committed offsets.

    lag = GroupLag(kafka, group_id)
    behind = await lag.records()    # None when the topic has no partitions yet
    await lag.close()

Exact on Apache Kafka; approximate on Tansu, which undercounts end offsets after multi-record
batches (DESIGN §6). The reader never joins the group and never commits: it only asks.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from kernel.kafka import started_consumer
from kernel.settings import KafkaSettings


class GroupLag:
    def __init__(self, kafka: KafkaSettings, group_id: str, topic: str | None = None) -> None:
        self._kafka = kafka
        self._group_id = group_id
        self._topic = topic or kafka.topics.events
        self._consumer: AIOKafkaConsumer | None = None

    async def records(self) -> int | None:
        consumer = await self._started()
        partitions = (consumer.partitions_for_topic(self._topic)
                      or set(range(self._kafka.events_partitions)))  # as convsync creates the topic
        tps = [TopicPartition(self._topic, p) for p in partitions]
        if not tps:
            return None
        ends = await consumer.end_offsets(tps)
        total = 0
        for tp in tps:
            committed = await consumer.committed(tp) or 0
            total += max(0, ends[tp] - committed)
        return total

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = await started_consumer(bootstrap_servers=self._kafka.bootstrap, group_id=self._group_id,
                                              enable_auto_commit=False)
            try:
                await consumer.topics()  # fetch metadata once, so the partitions are known
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
