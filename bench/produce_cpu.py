#!/usr/bin/env python3
"""The CPU of the edge's Produce path per group of webhooks, against aiokafka's own classes.

    .venv/bin/python bench/produce_cpu.py [--group 16] [--groups 2000]

A group as `convsync serve` forms it under bench/webhook.py's load: `--group` signed single-event
bodies from 100 pages, parsed into records, put into one record batch per partition of the
12-partition events topic plus one batch of raw bodies, sent as one Produce request (acks=all),
and its answer read. Measured in this process, without sockets or a broker, two ways:

  aiokafka   the batches from aiokafka's `BatchBuilder` (`producer.create_batch()`), the request
             written and the answer read by its `ProduceRequest` and `ProduceResponse` classes
  edge       what the edge does: `RecordBatch` (kernel/aiokafka_wire.py) and `EdgeProduceRequest`,
             whose body and answer `kernel/produce_wire.py` writes and reads

Each step's CPU per group, best of `--repeats`, and the ratio edge/aiokafka. Both ways give the same
request bytes (checked here, and in tests/kernel/test_produce_wire.py). Prints numbers, asserts
nothing else.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka.producer.message_accumulator import BatchBuilder  # noqa: E402
from aiokafka.protocol.produce import ProduceRequest  # noqa: E402

from bench.webhook import meta_body  # noqa: E402
from ingest.coalesce import Batches, raw_headers  # noqa: E402
from ingest.parse import parse_webhook  # noqa: E402
from ingest.partition import MemoPartitioner  # noqa: E402
from ingest.received import Received  # noqa: E402
from kernel.aiokafka_wire import EdgeProduceRequest, RecordBatch  # noqa: E402
from kernel.kafka import MAX_BATCH_BYTES  # noqa: E402
from kernel.records import encode, key_bytes  # noqa: E402

PARTITIONS = list(range(12))
VERSIONS = {0: (0, 9)}  # what a broker offering Produce v0-v9 lets aiokafka choose (v7)
Group = list[tuple[str, int, bytes | None, bytes, list[tuple[str, bytes]], int | None]]


def group_records(size: int, seed: int) -> Group:
    """(topic, partition, key, value, headers, timestamp) of every record of one group, in order."""
    rng, partitioner = random.Random(seed), MemoPartitioner()
    records: Group = []
    for n in range(size):
        body = meta_body(n, rng)
        request = Received(body, "sha256=" + "0" * 64, 1_733_000_000_000 + n, "0" * 64)
        for record in parse_webhook(body, received_at=request.received_at, body_sha256=request.body_sha256):
            key = key_bytes(record)
            records.append(("events", partitioner(key, PARTITIONS, PARTITIONS), key, encode(record), [], None))
        records.append(("raw", 3, None, body, raw_headers(request), request.received_at))
    return records


def aiokafka_batches(records: Group) -> list[tuple[str, int, Any]]:
    batches: dict[tuple[str, int], Any] = {}
    for topic, partition, key, value, headers, timestamp in records:
        batch = batches.get((topic, partition))
        if batch is None:
            batch = batches[(topic, partition)] = BatchBuilder(MAX_BATCH_BYTES, 0)
        batch.append(timestamp=timestamp, key=key, value=value, headers=headers)
    return [(topic, partition, batch._build()) for (topic, partition), batch in batches.items()]


def edge_batches(records: Group) -> list[tuple[str, int, Any]]:
    batches = Batches(MAX_BATCH_BYTES)
    for topic, partition, key, value, headers, timestamp in records:
        batches.append(topic, partition, key, value, headers, timestamp=timestamp)
    return [(topic, partition, batch.build()) for topic, partition, batch in batches.all()]


def by_topic(built: list[tuple[str, int, Any]]) -> list[tuple[str, list[tuple[int, Any]]]]:
    topics: dict[str, list[tuple[int, Any]]] = {}
    for topic, partition, data in built:
        topics.setdefault(topic, []).append((partition, data))
    return list(topics.items())


def best_us(work: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(count):
            work()
        best = min(best, (time.process_time() - started) / count * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", type=int, default=16, help="webhooks per group (default 16)")
    parser.add_argument("--groups", type=int, default=2000, help="groups per measurement (default 2000)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    records = group_records(args.group, seed=4)
    topics = by_topic(edge_batches(records))
    theirs = ProduceRequest(transactional_id=None, required_acks=-1, timeout=5000, topics=topics).prepare(VERSIONS)
    ours = EdgeProduceRequest(transactional_id=None, required_acks=-1, timeout=5000, topics=topics).prepare(VERSIONS)
    if ours.encode() != theirs.encode():
        raise SystemExit("bench: the two ways wrote different requests")
    answered = [(topic, [(p, 0, 1000, -1, 0) for p, _ in parts]) for topic, parts in topics]
    answer = theirs.RESPONSE_TYPE(answered, 0).encode()

    def write(request: Any) -> Callable[[], object]:
        return lambda: request(transactional_id=None, required_acks=-1, timeout=5000,
                               topics=topics).prepare(VERSIONS).encode()

    steps: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("record batches", lambda: aiokafka_batches(records), lambda: edge_batches(records)),
        ("write the request", write(ProduceRequest), write(EdgeProduceRequest)),
        ("read the answer", lambda: theirs.RESPONSE_TYPE.decode(io.BytesIO(answer)),
         lambda: ours.RESPONSE_TYPE.decode(io.BytesIO(answer))),
    ]
    batch_count = len([b for _, parts in topics for b in parts])
    print(f"bench: {args.group} webhooks per group: {len(records)} records in {batch_count} batches, "
          f"a request of {len(ours.encode()):,} bytes; best of {args.repeats} x {args.groups} groups", flush=True)
    print("\n| step | aiokafka us/group | edge us/group | edge/aiokafka |\n|---|---|---|---|")
    totals = [0.0, 0.0]
    for name, slow, fast in steps:
        a, b = best_us(slow, args.groups, args.repeats), best_us(fast, args.groups, args.repeats)
        totals[0] += a
        totals[1] += b
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    print(f"| **all three** | {totals[0]:.1f} | {totals[1]:.1f} | {totals[1] / totals[0]:.2f} |")
    print(f"\nper webhook: {totals[0] / args.group:.2f} us against {totals[1] / args.group:.2f} us")


if __name__ == "__main__":
    main()
