#!/usr/bin/env python3
"""Where `consumers.store.write_batch` spends its time, statement by statement.

    .venv/bin/python bench/write_statements.py [--records 100000] [--conversations 5000]

On the embedded PostgreSQL (started here under a temp folder), two workloads, each into a fresh
database and in batches of 5,000 records, one transaction each, as the writer commits them:

  mixed       bench/consume.py's mix (messages and echoes with deliveries, reads, reactions, edits,
              postbacks, and Graph snapshots re-reading what webhooks brought)
  full sync   Graph readings only, `--conversations` conversations of 20 messages each that nothing
              stored before: the first full sync of a newly connected page

For each: records/s and messages/s, then per statement its time, its share of the whole, and the
rows it returned. Statement i's time is measured around its round trip on the connection, so the
shares leave out the commits and the Python between statements. Prints numbers, asserts nothing; the baseline is
the total of the same workload in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.consume import CHUNK, chunks, run_on_embedded_stack, run_row, writer_connection  # noqa: E402
from consumers import store  # noqa: E402
from consumers.batch import merge  # noqa: E402
from consumers.mapping import map_record  # noqa: E402
from convsync.embedded import EmbeddedStack  # noqa: E402
from emulator import records as traffic  # noqa: E402
from kernel.records import EventRecord  # noqa: E402
from tests.support.databases import create_database, create_template  # noqa: E402


class Timed:
    """An asyncpg connection whose `fetch` and `execute` add their time and rows to a statement's tally."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.names = {store.sql(name): name for name in store.STATEMENTS}
        self.seconds: collections.Counter[str] = collections.Counter()
        self.rows: collections.Counter[str] = collections.Counter()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        started = time.perf_counter()
        rows: list[asyncpg.Record] = await self.conn.fetch(query, *args)
        name = self.names.get(query, query[:40])
        self.seconds[name] += time.perf_counter() - started
        self.rows[name] += len(rows)
        return rows

    async def execute(self, query: str, *args: Any) -> str:
        started = time.perf_counter()
        status: str = await self.conn.execute(query, *args)
        self.seconds[self.names.get(query, query[:40])] += time.perf_counter() - started
        return status


def full_sync(conversations: int, run_id: str, seed: int = 3) -> list[EventRecord]:
    """One Graph reading per conversation, 20 messages each (newest 20, as a sync reads them)."""
    rng = random.Random(seed)
    readings = []
    for u in range(conversations):
        page, user = f"10{u % 50:08d}", f"30{u:08d}"
        ts = traffic.BASE_MS + u * 1_000
        messages = [(f"g_{page}_{user}_{i}", ts + i * 60_000, f"text {i}", rng.random() < 0.4) for i in range(20)]
        readings.append(traffic.snapshot(page, user, run_id, ts + 21 * 60_000, messages, 20))
    return readings


async def measure(name: str, admin_url: str, template: str, make: Any) -> None:
    run_id = str(uuid.uuid4())
    records: list[EventRecord] = make(run_id)
    url = await create_database(admin_url, template)
    await run_row(url, run_id)
    plan = [merge(map_record(r) for r in chunk) for chunk in chunks(records, CHUNK)]
    messages = sum(len(batch.messages) for batch in plan)
    conn = await writer_connection(url)
    try:
        timed = Timed(conn)
        started = time.perf_counter()
        for batch in plan:
            async with conn.transaction():
                await store.write_batch(timed, batch)  # type: ignore[arg-type]  # fetch/execute only
        total = time.perf_counter() - started
    finally:
        await conn.close()
    print(f"\n{name}: {len(records):,} records ({messages:,} message rows) in {total:.2f} s: "
          f"{len(records) / total:,.0f} records/s, {messages / total:,.0f} messages/s")
    print("| statement | seconds | share | rows |")
    print("|---|---|---|---|")
    for statement, seconds in timed.seconds.most_common():
        print(f"| {statement} | {seconds:.2f} | {100 * seconds / total:.1f}% | {timed.rows[statement]:,} |")


async def bench(args: argparse.Namespace, stack: EmbeddedStack, work: Path) -> None:
    template = await create_template(stack.database_url)
    await measure("mixed", stack.database_url, template,
                  lambda run_id: traffic.mixed(args.records, pages=50, messages_per_conversation=20, seed=11,
                                               run_id=run_id))
    await measure("full sync", stack.database_url, template, lambda run_id: full_sync(args.conversations, run_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="of the mixed workload")
    parser.add_argument("--conversations", type=int, default=5_000, help="of the full sync (20 messages each)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the embedded stack's folder here")
    run_on_embedded_stack(parser.parse_args(), bench)


if __name__ == "__main__":
    main()
