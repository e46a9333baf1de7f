#!/usr/bin/env python3
"""What a record the database refuses costs the writer, and the two ways to find it (issue 14).

    .venv/bin/python bench/refusals.py [--records 5000] [--rounds 3]

On the embedded PostgreSQL (started here under a temp folder), one batch of N mapped records
(tests/consumers/traffic.py's realistic mix) written into an empty database each time:
(a) clean: the batch as the writer writes it, in one transaction (the baseline of this run);
(b) bisect: the same batch with k records the database refuses (a 3,000-character `mid`: an index
    row too large), through `consumers.database.Database.write`, which fails once, then halves the
    batch under savepoints until each refused record stands alone (what the writer does);
(c) one savepoint per record: the other way to find them, on the retry, every record of the batch
    written under a savepoint of its own.
Prints each time and its ratio to (a). Bounded: N records, a few rounds, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.consume import writer_connection  # noqa: E402
from consumers.batch import merge  # noqa: E402
from consumers.database import Database  # noqa: E402
from consumers.mapping import map_record  # noqa: E402
from consumers.rows import Rows  # noqa: E402
from consumers.store import write_batch  # noqa: E402
from convsync.embedded import Postgres, free_port  # noqa: E402
from emulator import records as traffic  # noqa: E402
from kernel.settings import load  # noqa: E402
from tests.support.databases import create_database, create_template, drop_database  # noqa: E402


def batch_rows(n: int, bad: int) -> list[Rows]:
    rows = [map_record(r) for r in traffic.mixed(n, pages=4, messages_per_conversation=10, seed=5)]
    for k in range(bad):
        long_mid = "m_" + secrets.token_hex(1500)
        rows[(k + 1) * len(rows) // (bad + 1)] = map_record(
            traffic.message("1000000000", f"9{k:09d}", long_mid, traffic.BASE_MS, "refused"))
    return rows


async def clean(url: str, rows: list[Rows]) -> None:
    conn = await writer_connection(url)
    try:
        async with conn.transaction():
            await write_batch(conn, merge(rows))
    finally:
        await conn.close()


async def bisect(url: str, rows: list[Rows]) -> None:
    async with Database(url, server_settings=load({}).database.server_settings()) as db:
        written = await db.write(rows)
    assert written.refused, "the batch must hold a refused record"


async def savepoint_each(url: str, rows: list[Rows]) -> None:
    conn = await writer_connection(url)
    try:
        async with conn.transaction():
            for r in rows:
                try:
                    async with conn.transaction():
                        await write_batch(conn, merge([r]))
                except asyncpg.PostgresError:
                    pass
    finally:
        await conn.close()


async def timed(admin: str, template: str, write: Callable[[str, list[Rows]], Awaitable[None]],
                rows: list[Rows], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        url = await create_database(admin, template)
        try:
            started = time.perf_counter()
            await write(url, rows)
            times.append(time.perf_counter() - started)
        finally:
            await drop_database(admin, url)
    return statistics.median(times)


async def bench(admin: str, n: int, rounds: int) -> None:
    template = await create_template(admin)
    base = await timed(admin, template, clean, batch_rows(n, 0), rounds)
    print(f"records per batch: {n}; medians of {rounds} rounds, each into an empty database")
    print(f"(a) clean batch, one transaction            {base * 1000:8.1f} ms   1.00x")
    for bad in (1, 10):
        rows = batch_rows(n, bad)
        b = await timed(admin, template, bisect, rows, rounds)
        print(f"(b) {bad:>2} refused, bisect under savepoints     {b * 1000:8.1f} ms   {b / base:5.2f}x")
    rows = batch_rows(n, 1)
    each = await timed(admin, template, savepoint_each, rows, 1)
    print(f"(c)  1 refused, a savepoint per record       {each * 1000:8.1f} ms   {each / base:5.2f}x  (1 round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convsync-bench-") as folder:
        postgres = Postgres(pgdata=Path(folder) / "pgdata", port=free_port())
        postgres.start()
        try:
            asyncio.run(bench(postgres.url, args.records, args.rounds))
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
