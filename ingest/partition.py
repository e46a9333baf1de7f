"""The Kafka partitioner of the edge: aiokafka's default (murmur2, like the Java client), memoised.

Keys must land on the same partition whichever producer sends them (the reconciler uses the plain
default), so the choice is exactly the default's; only the pure-Python murmur2 is skipped for keys
seen before. Conversations repeat, so most requests hit the memo.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner

MEMO_LIMIT = 100_000


class MemoPartitioner:
    def __init__(self) -> None:
        self._default = DefaultPartitioner()
        self._memo: dict[tuple[bytes, int], int] = {}

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        slot = (key, len(all_partitions))
        index = self._memo.get(slot)
        if index is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            chosen = self._default(key, all_partitions, available)
            index = self._memo[slot] = list(all_partitions).index(chosen)
        return all_partitions[index]
