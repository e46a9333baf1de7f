#!/usr/bin/env python3
"""The writer's cost per new message as conversations grow long.

    .venv/bin/python bench/thread_length.py [--conversations 100] [--lengths 10,1000,5000] [--batches 5]

On the embedded PostgreSQL (started here under a temp folder), for each length L: a fresh database
holding `--conversations` conversations of one page with L webhook messages each (ANALYZEd), then
`--batches` batches of one new message per conversation, written with `consumers.store.write_batch`
on one connection set up as the processes set theirs up (`bench.consume.writer_connection`). Prints
the time per batch and its ratio to the shortest length, and the four slowest statements per batch.
The baseline is the shortest length in the same run. Prints numbers, asserts nothing.

bench/growth.py grows the tables with many short conversations; this one grows each conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.consume import run_on_embedded_stack, webhook_body, writer_connection  # noqa: E402
from bench.write_statements import Timed  # noqa: E402
from consumers.batch import merge  # noqa: E402
from consumers.mapping import map_record  # noqa: E402
from consumers.store import write_batch  # noqa: E402
from convsync.embedded import EmbeddedStack  # noqa: E402
from ingest.parse import parse_webhook  # noqa: E402
from kernel.records import EventRecord  # noqa: E402
from tests.support.databases import create_database, create_template  # noqa: E402

PAGE = "104857600000001"
BASE_MS = 1_795_000_000_000
FILL_CHUNK = 5000


def messages(conversations: int, per_conversation: int, first: int) -> list[EventRecord]:
    """`per_conversation` rounds of one inbound message to each conversation, numbered from `first`."""
    records: list[EventRecord] = []
    n = first
    for _ in range(per_conversation):
        for user in range(conversations):
            body = webhook_body(PAGE, str(6_000_000_000 + user), f"m_{n:010d}", BASE_MS + n)
            records += parse_webhook(body, received_at=BASE_MS + n, body_sha256="0" * 64)
            n += 1
    return records


async def write(conn: asyncpg.Connection | Timed, records: list[EventRecord], size: int) -> None:
    for start in range(0, len(records), size):
        raw = conn.conn if isinstance(conn, Timed) else conn
        async with raw.transaction():
            await write_batch(conn, merge(map_record(r) for r in records[start:start + size]))  # type: ignore[arg-type]


async def measure(url: str, conversations: int, length: int, batches: int) -> tuple[float, list[tuple[str, float]]]:
    """Seconds per batch of new messages, and the slowest statements' seconds per batch."""
    conn = await writer_connection(url)
    try:
        await write(conn, messages(conversations, length, 0), FILL_CHUNK)
        await conn.execute("ANALYZE")
        timed = Timed(conn)
        started = time.perf_counter()
        await write(timed, messages(conversations, batches, conversations * length), conversations)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return elapsed / batches, [(name, s / batches) for name, s in timed.seconds.most_common(4)]


async def bench(args: argparse.Namespace, stack: EmbeddedStack, work: Path) -> None:
    template = await create_template(stack.database_url)
    lengths = [int(n) for n in args.lengths.split(",")]
    print(f"bench: {args.conversations} conversations of one page; per length, {args.batches} batches of one "
          "new message per conversation\n")
    print("| messages per conversation | ms per batch | ratio to the shortest | slowest statements, ms per batch |")
    print("|---|---|---|---|")
    baseline = None
    for length in lengths:
        url = await create_database(stack.database_url, template)
        per_batch, slowest = await measure(url, args.conversations, length, args.batches)
        baseline = baseline or per_batch
        statements = ", ".join(f"{name} {1000 * s:.1f}" for name, s in slowest)
        print(f"| {length:,} | {1000 * per_batch:.1f} | {per_batch / baseline:.1f} | {statements} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--lengths", default="10,1000,5000", help="messages per conversation (comma-separated)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep the embedded stack's folder here")
    run_on_embedded_stack(parser.parse_args(), bench)


if __name__ == "__main__":
    main()
