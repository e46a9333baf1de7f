#!/usr/bin/env python3
"""Writer cost as the tables grow (issue 21): the same records written into small and large tables.

    .venv/bin/python bench/growth.py [--records 200000] [--stored 2000000]

On the embedded stack (PostgreSQL + Tansu, started here under a temp folder), two databases from the
same migrations: "small" as the tests use it, and "large" with `--stored` messages already stored
(20 per conversation, on 200 other pages, each with a webhook's `raw` body as convsync keeps it). The
same `--records` mixed records (bench/consume.py's mix) are then written into each, in the same run:

  floor    the raw ceiling for the same rows: per batch of 5,000 records and per table, the mapped
           rows COPY'd into a temporary table and merged by the writer's own upsert statement (its
           `unnest` source swapped for that table); no Kafka, no decoding, none of the writer's
           pending-edit, unsend or refresh steps. Rows/s counts the rows the merges returned
  ceiling  `consumers.store.write_batch` on one plain asyncpg connection (no Kafka, no decoding), in
           batches of 5,000: records/s and rows/s (every row any statement inserted or changed)
  drain    the records preloaded on a topic and drained by one `convsync consume` process; its rows/s
           is its records/s times the ceiling's rows per record (the same records write the same rows)

and the ratio large/small of each (target: drain >= 0.8x), and of the drain to the floor.
Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.consume import (CHUNK, chunks, copy_merge, drain, floor_rows, log, preload,  # noqa: E402
                           run_on_embedded_stack, run_row, writer_connection)
from consumers.batch import merge  # noqa: E402
from consumers.mapping import map_record  # noqa: E402
from consumers.batch import Batch  # noqa: E402
from consumers.store import LATER_UPSERTS, PENDING_UPSERTS, WriteResult, sql, upsert_columns, write_batch  # noqa: E402
from convsync.embedded import EmbeddedStack  # noqa: E402
from emulator import records as traffic  # noqa: E402
from kernel.kafka import ensure_topics  # noqa: E402
from kernel.records import EventRecord  # noqa: E402
from kernel.settings import KafkaSettings  # noqa: E402
from tests.support.databases import create_database, create_template, with_database  # noqa: E402

FILL = """
INSERT INTO pages (page_id, graph_page_id, platform, name)
SELECT 'g' || p, 'g' || p, 'messenger', 'stored ' || p FROM generate_series(0, 199) AS p;
INSERT INTO conversations (page_id, user_id, platform, updated_at, last_message_at, message_count, message_rows, snippet)
SELECT 'g' || (c % 200), 'u' || c, 'messenger', now(), now(), 20, 20, 'stored'
FROM generate_series(0, $1::int / 20 - 1) AS c;
INSERT INTO messages (page_id, mid, user_id, direction, sender_id, created_at, text, source, raw)
SELECT 'g' || (c % 200), 'm_stored_' || i, 'u' || c, CASE WHEN i % 3 = 0 THEN 'outbound' ELSE 'inbound' END,
       'u' || c, now() - make_interval(secs => i), 'stored message number ' || i || ' ' || repeat('x', 40), 'webhook',
       format('{"sender": {"id": "u%s"}, "recipient": {"id": "g%s"}, "timestamp": %s, "message": {"mid": "m_stored_%s",'
              ' "text": "stored message number %s", "attachments": [{"type": "image", "payload": {"url":'
              ' "https://scontent.xx.fbcdn.net/v/%s%s"}}]}}',
              c, c % 200, 1790000000000 + i, i, i, md5(i::text), repeat('q', 160))::jsonb
FROM generate_series(0, $1::int - 1) AS i, LATERAL (SELECT i / 20 AS c) AS conv;
"""


async def large_template(admin_url: str, template: str, stored: int) -> str:
    """A template database from `template` with `stored` messages already in it."""
    name = f"convsync_large_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(admin_url, name))
    try:
        started = time.perf_counter()
        for statement in FILL.split(";\n"):
            if statement.strip():
                await conn.execute(statement.replace("$1::int", str(stored)))
        await conn.execute("VACUUM ANALYZE")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        log(f"large: {stored:,} messages stored in {time.perf_counter() - started:.0f} s ({size})")
    finally:
        await conn.close()
    return name


async def ceiling(admin_url: str, template: str, records: list[EventRecord], run_id: str) -> tuple[float, float]:
    """records/s and rows/s of write_batch on one connection into a fresh copy of `template`."""
    url = await create_database(admin_url, template)
    await run_row(url, run_id)
    plan = [merge(map_record(r) for r in c) for c in chunks(records, CHUNK)]
    conn = await writer_connection(url)
    results: list[WriteResult] = []
    started = time.perf_counter()
    for batch in plan:
        async with conn.transaction():
            results.append(await write_batch(conn, batch))
    elapsed = time.perf_counter() - started
    await conn.close()
    total = WriteResult.combine(results)
    return len(records) / elapsed, (total.total_inserted + total.total_updated) / elapsed


# The upsert statements whose rows the floor writes, one per table, in write_batch's order.
FLOOR_STATEMENTS = ("upsert_conversations", *(name for _, name in PENDING_UPSERTS), "upsert_messages",
                    *(name for _, name in LATER_UPSERTS))
async def floor(admin_url: str, template: str, records: list[EventRecord], run_id: str) -> tuple[float, float]:
    """records/s and rows/s of COPY + one merge per table, into a fresh copy of `template`."""
    url = await create_database(admin_url, template)
    await run_row(url, run_id)
    plan = [merge(map_record(r) for r in c) for c in chunks(records, CHUNK)]
    statements = [(name, *copy_merge(name)) for name in FLOOR_STATEMENTS]
    conn = await writer_connection(url)
    rows = 0
    started = time.perf_counter()
    for batch in plan:
        async with conn.transaction():
            for name, table, create, merging in statements:
                source = floor_rows(batch, name)
                if not source:
                    continue
                await conn.execute(create)
                await conn.copy_records_to_table(table, records=source)
                rows += len(await conn.fetch(merging))
    elapsed = time.perf_counter() - started
    await conn.close()
    return len(records) / elapsed, rows / elapsed


async def bench(args: argparse.Namespace, stack: EmbeddedStack, work: Path) -> None:
    admin_url = stack.database_url
    small = await create_template(admin_url)
    large = await large_template(admin_url, small, args.stored)
    run_id = str(uuid.uuid4())
    records = traffic.mixed(args.records, pages=50, messages_per_conversation=20, seed=11, run_id=run_id)
    kafka = KafkaSettings(bootstrap=stack.kafka_bootstrap, idempotence=False, events_partitions=8,
                          topic_prefix=f"growth{uuid.uuid4().hex[:6]}.")
    await ensure_topics(kafka)
    log(f"preload: {await preload(kafka, records):,.0f} records/s")
    found: dict[str, tuple[float, ...]] = {}
    for name, template in (("small", small), ("large", large), ("small again", small)):
        floor_records, floor_rows_s = await floor(admin_url, template, records, run_id)
        records_s, rows_s = await ceiling(admin_url, template, records, run_id)
        drained = await drain(stack, admin_url, template, kafka, len(records), run_id, 1, work, args.timeout)
        drained_rows = drained * rows_s / records_s
        found[name] = (floor_records, floor_rows_s, records_s, rows_s, drained, drained_rows)
        log(f"{name}: floor {floor_records:,.0f} records/s ({floor_rows_s:,.0f} rows/s), ceiling {records_s:,.0f} "
            f"records/s ({rows_s:,.0f} rows/s), drain {drained:,.0f} records/s ({drained_rows:,.0f} rows/s)")
    base = tuple((a + b) / 2 for a, b in zip(found["small"], found["small again"], strict=True))
    print(f"{args.records:,} mixed records; large = {args.stored:,} messages stored before")
    print("| tables | floor records/s (rows/s) | write_batch records/s (rows/s) | drain records/s (rows/s) "
          "| drain / floor |")
    print("|---|---|---|---|---|")
    for name, (f_rec, f_rows, c_rec, c_rows, d_rec, d_rows) in found.items():
        print(f"| {name} | {f_rec:,.0f} ({f_rows:,.0f}) | {c_rec:,.0f} ({c_rows:,.0f}) | {d_rec:,.0f} ({d_rows:,.0f}) "
              f"| {d_rec / f_rec:.2f} |")
    large_row = found["large"]
    print(f"large / small (mean of the two small runs): floor {large_row[0] / base[0]:.2f}, "
          f"write_batch {large_row[2] / base[2]:.2f}, drain {large_row[4] / base[4]:.2f} (target >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--stored", type=int, default=2_000_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", type=Path, default=None, help="keep the child logs in this folder")
    run_on_embedded_stack(parser.parse_args(), bench)


if __name__ == "__main__":
    main()
