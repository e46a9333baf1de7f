#!/usr/bin/env python3
"""What a Produce request costs the embedded Tansu broker, by its shape (issue 21).

    .venv/bin/python bench/broker_cost.py [--records 24000]

For each shape (partition batches per request, records per batch), a fresh Tansu (as the embedded
default runs it) with the events topic of 12 partitions; one client writes the edge's own Produce
requests (`kernel.aiokafka_wire`, acks=all, one in flight) of ~500-byte records, `--records` of them
in all whatever the shape (Tansu's in-memory topics get slower as they fill, so every shape stores
the same), and the broker's CPU time is read from /proc (bench/proctime.py). Prints the broker's CPU per request and a least-squares
fit: a fixed cost per request plus a cost per partition batch and per record. The baseline is the
smallest shape in the same run. The edge's groups (bench/webhook.py prints their size) pay the
fixed cost once per group, and the per-batch cost once per partition the group touches.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.proctime import CpuMeter  # noqa: E402
from convsync.embedded import Tansu, free_port  # noqa: E402
from kernel.aiokafka_wire import Connections, RecordBatch  # noqa: E402
from kernel.kafka import ensure_topics  # noqa: E402
from kernel.settings import KafkaSettings  # noqa: E402

SHAPES = ((1, 1), (1, 16), (2, 8), (4, 4), (8, 2), (12, 1), (12, 4))  # (batches, records per batch)
VALUE = b"x" * 500
WARM_UP = 200


async def send(producer: AIOKafkaProducer, topic: str, batches: int, records: int, count: int) -> None:
    client = Connections(producer)
    node = client.leader(topic, 0)
    assert node is not None
    for _ in range(count):
        data = []
        for partition in range(batches):
            batch = RecordBatch(1 << 20)
            for n in range(records):
                batch.append(None, b"key-%d" % n, VALUE, [])
            data.append((partition, batch.build()))
        await client.produce(node, ack_timeout_ms=5000, topics=[(topic, data)])


async def measure(batches: int, records: int, requests: int, work: Path) -> float:
    """The broker's CPU microseconds per request of this shape, on a fresh broker."""
    broker = Tansu(port=free_port(), log_path=work / "tansu.log")
    broker.start()
    try:
        assert broker.proc is not None
        kafka = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix="bench.", events_partitions=12)
        await ensure_topics(kafka)
        topic = kafka.topics.events
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.client.force_metadata_update()
            await send(producer, topic, batches, records, WARM_UP)
            meter = CpuMeter(broker.proc.pid)
            meter.start()
            await send(producer, topic, batches, records, requests)
            return meter.stop() * 1e6 / requests
        finally:
            await producer.stop()
    finally:
        broker.stop()


def fit(rows: list[tuple[int, int, float]]) -> tuple[float, float, float]:
    """Least squares of us = fixed + per_batch * batches + per_record * records (normal equations)."""
    xs = [(1.0, float(b), float(b * r)) for b, r, _ in rows]
    ys = [us for _, _, us in rows]
    a = [[sum(x[i] * x[j] for x in xs) for j in range(3)] for i in range(3)]
    v = [sum(x[i] * y for x, y in zip(xs, ys, strict=True)) for i in range(3)]
    for col in range(3):  # Gauss-Jordan; the matrix is small and well conditioned for these shapes
        pivot = a[col][col]
        a[col] = [value / pivot for value in a[col]]
        v[col] /= pivot
        for row in range(3):
            if row != col:
                factor = a[row][col]
                a[row] = [x - factor * y for x, y in zip(a[row], a[col], strict=True)]
                v[row] -= factor * v[col]
    return v[0], v[1], v[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=24_000, help="measured records per shape (default 24000)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="convsync-broker-cost-"))
    rows: list[tuple[int, int, float]] = []
    print("| partition batches | records per batch | broker CPU per request | vs the smallest |")
    print("|---|---|---|---|")
    for batches, records in SHAPES:
        us = asyncio.run(measure(batches, records, args.records // (batches * records), work))
        rows.append((batches, records, us))
        print(f"| {batches} | {records} | {us:.0f} us | {us / rows[0][2]:.2f}x |", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    fixed, per_batch, per_record = fit(rows)
    print(f"\nfit: {fixed:.0f} us per request + {per_batch:.1f} us per partition batch + {per_record:.1f} us per record")


if __name__ == "__main__":
    main()
