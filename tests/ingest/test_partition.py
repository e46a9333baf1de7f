"""The memoised partitioner chooses exactly what aiokafka's default (murmur2) chooses."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from ingest.partition import MemoPartitioner


def test_same_partition_as_the_default_for_every_key_and_partition_count() -> None:
    memo = MemoPartitioner()
    for count in (1, 4, 12, 50):
        partitions = list(range(count))
        for n in range(500):
            key = f"{n % 7}{n}:{n * 7919}".encode()
            expected = DefaultPartitioner()(key, partitions, partitions)
            assert memo(key, partitions, partitions) == expected
            assert memo(key, partitions, partitions) == expected  # from the memo


def test_no_key_picks_an_available_partition() -> None:
    assert MemoPartitioner()(None, [0, 1, 2], [2]) == 2
