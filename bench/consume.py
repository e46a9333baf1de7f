#!/usr/bin/env python3
"""Benchmark of the writer against its ceiling, measured in the same run (issue 5).

    .venv/bin/python bench/consume.py [--records 200000] [--latency-seconds 10] [--rates 2000,500]

On the embedded stack (PostgreSQL + Tansu, started here under a temp folder):
(a) statement choice: messages-only upsert, `unnest` arrays vs COPY into a temp table + merge;
(b) ceiling: the same merged rows written with `consumers.store.write_batch` on 1 and 2 connections
    (plain asyncpg, no Kafka, no decoding: rows mapped and merged before the clock starts);
(c) drain: N preloaded records consumed by 1 and 2 `convsync consume` processes (time from their
    first to their last batch, so the group join is not counted); ratio (c)/(b) per connection count;
(d) latency at a steady rate: signed webhook POSTs to `convsync serve` -> row visible in `messages`
    (a poller looks for the sent mids every 20 ms), with one consumer running.
Realistic mix: messages and echoes with deliveries, reads, reactions, edits, postbacks and graph
snapshots over many conversations (tests/consumers/traffic.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from consumers.batch import Batch, merge  # noqa: E402
from consumers.mapping import map_record  # noqa: E402
from consumers.store import sql, upsert_columns, write_batch  # noqa: E402
from bench.loadgen import open_loop, request_bytes  # noqa: E402
from convsync.embedded import EmbeddedStack, embedded_stack, free_port  # noqa: E402
from kernel.kafka import ensure_topics, producer  # noqa: E402
from kernel.records import EventRecord, encode, key_bytes  # noqa: E402
from kernel.settings import KafkaSettings  # noqa: E402
from kernel.settings import load as load_settings  # noqa: E402
from ingest.signature import sign  # noqa: E402
from emulator import records as traffic  # noqa: E402
from tests.support.databases import create_database, create_template  # noqa: E402

CHUNK = 5000
SECRET = "bench-app-secret"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def lanes(records: list[EventRecord], n: int) -> list[list[EventRecord]]:
    """Split like Kafka partitions would: by thread key, each lane keeping its order."""
    out: list[list[EventRecord]] = [[] for _ in range(n)]
    for r in records:
        out[zlib.crc32(key_bytes(r)) % n].append(r)
    return out


async def run_row(url: str, run_id: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO sync_runs (run_id, page_id, mode, trigger) VALUES ($1, 'bench', 'full', 'cli')",
                       uuid.UUID(run_id))
    await conn.close()


async def writer_connection(url: str) -> asyncpg.Connection:
    """A connection set up as the processes set theirs up (`DatabaseSettings.server_settings`: per-run
    plans, timeouts), so a baseline writes under the writer's conditions."""
    conn: asyncpg.Connection = await asyncpg.connect(url, server_settings=load_settings({}).database.server_settings())
    return conn


# (a) unnest vs COPY ------------------------------------------------------------------------------

UNNEST = re.compile(r"unnest\((?P<args>[^;]*?)\)\s+AS\s+r\s*\((?P<names>[^)]*)\)", re.S)


def copy_merge(name: str) -> tuple[str, str, str]:
    """(temp table, its CREATE, the statement merging it) for one of the writer's upsert statements:
    the same statement with its `unnest($1::t[], ...) AS r(...)` source swapped for the table."""
    text = sql(name)
    found = UNNEST.search(text)
    if found is None:
        raise SystemExit(f"bench: {name}.sql has no unnest(...) AS r(...) source to swap")
    types = re.findall(r"\$\d+::([a-z ]+)\[\]", found["args"])
    names = [n.strip() for n in found["names"].split(",")]
    table = f"copy_{name}"
    columns = ", ".join(f"{n} {t}" for n, t in zip(names, types, strict=True))
    return table, f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP", text[:found.start()] + f"{table} AS r" + \
        text[found.end():]


def floor_rows(batch: Batch, name: str) -> list[tuple[object, ...]]:
    """The rows write_batch passes to statement `name` as column arrays, as tuples."""
    return list(zip(*upsert_columns(batch, name)))


async def messages_unnest(conn: asyncpg.Connection, batch: Batch) -> None:
    async with conn.transaction():
        await conn.fetch(sql("upsert_messages"), *upsert_columns(batch, "upsert_messages"))


async def messages_copy(conn: asyncpg.Connection, batch: Batch) -> None:
    table, create, merge_sql = copy_merge("upsert_messages")
    async with conn.transaction():
        await conn.execute(create)
        await conn.copy_records_to_table(table, records=floor_rows(batch, "upsert_messages"))
        await conn.fetch(merge_sql)


async def statement_choice(admin_url: str, template: str, batches: list[Batch]) -> dict[str, float]:
    rates = {}
    rows = sum(len(b.messages) for b in batches)
    for name, write in (("unnest", messages_unnest), ("copy+merge", messages_copy)):
        conn = await writer_connection(await create_database(admin_url, template))
        started = time.perf_counter()
        for b in batches:
            await write(conn, b)
        rates[name] = rows / (time.perf_counter() - started)
        await conn.close()
    return rates


# (b) ceiling -------------------------------------------------------------------------------------

async def ceiling(admin_url: str, template: str, records: list[EventRecord], run_id: str, connections: int) -> float:
    url = await create_database(admin_url, template)
    await run_row(url, run_id)
    plans = [[merge(map_record(r) for r in c) for c in chunks(lane, CHUNK)] for lane in lanes(records, connections)]
    conns = [await writer_connection(url) for _ in range(connections)]

    async def drive(conn: asyncpg.Connection, plan: list[Batch]) -> None:
        for batch in plan:
            async with conn.transaction():
                await write_batch(conn, batch)

    started = time.perf_counter()
    await asyncio.gather(*(drive(c, p) for c, p in zip(conns, plans, strict=True)))
    elapsed = time.perf_counter() - started
    for c in conns:
        await c.close()
    return len(records) / elapsed


# (c) drain ---------------------------------------------------------------------------------------

def child_env(stack: EmbeddedStack, database_url: str, kafka: KafkaSettings, group: str) -> dict[str, str]:
    return {**os.environ, "CONVSYNC_DATABASE_URL": database_url,
            **replace(kafka, bootstrap=stack.kafka_bootstrap, idempotence=False).environment(),
            "CONVSYNC_CONSUMER_GROUP": group,
            "CONVSYNC_LOG_FORMAT": "json", "CONVSYNC_APP_SECRETS": SECRET, "CONVSYNC_VERIFY_TOKEN": "bench"}


def batch_lines(paths: list[Path]) -> list[dict[str, Any]]:
    found = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("event") == "batch_committed":
                    found.append(entry)
    return found


@contextlib.contextmanager
def processes(commands: list[list[str]], env: dict[str, str], logs: list[Path]
              ) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = []
    try:
        for command, path in zip(commands, logs, strict=True):
            with open(path, "wb") as out:
                procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=ROOT))
        yield procs
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


async def drain(stack: EmbeddedStack, admin_url: str, template: str, kafka: KafkaSettings, total: int,
                run_id: str, consumers: int, work: Path, timeout_s: float) -> float:
    url = await create_database(admin_url, template)
    await run_row(url, run_id)
    env = child_env(stack, url, kafka, f"bench-{uuid.uuid4().hex[:8]}")
    logs = [work / f"consume-{consumers}-{i}.log" for i in range(consumers)]
    command = [sys.executable, "-m", "convsync", "consume"]
    with processes([command] * consumers, env, logs):
        deadline = time.monotonic() + timeout_s
        while sum(e["records"] for e in batch_lines(logs)) < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"drain with {consumers} consumer(s) timed out; see {work}")
            await asyncio.sleep(0.5)
    entries = batch_lines(logs)
    stamps = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in entries]
    first = min(s - e["duration_ms"] / 1000 for s, e in zip(stamps, entries, strict=True))
    return total / (max(stamps) - first)


async def preload(kafka: KafkaSettings, records: list[EventRecord]) -> float:
    p = producer(kafka, linger_ms=20)
    await p.start()
    started = time.perf_counter()
    try:
        futures = [await p.send(kafka.topics.events, key=key_bytes(r), value=encode(r)) for r in records]
        await asyncio.gather(*futures)
    finally:
        await p.stop()
    return len(records) / (time.perf_counter() - started)


# (d) latency -------------------------------------------------------------------------------------

def webhook_body(page: str, user: str, mid: str, ts: int) -> bytes:
    document = {"object": "page", "entry": [{"id": page, "time": ts, "messaging": [{
        "sender": {"id": user}, "recipient": {"id": page}, "timestamp": ts,
        "message": {"mid": mid, "text": f"latency probe {mid}"}}]}]}
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode()


async def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


async def track_commit_times(stack: EmbeddedStack) -> None:
    """Turn on commit timestamps (a restart): a row's visibility time is then its transaction's commit."""
    conn = await asyncpg.connect(stack.database_url)
    await conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    await conn.close()
    stack.postgres.stop()
    stack.postgres.start()


@dataclass(frozen=True, slots=True)
class Latency:
    visible_ms: list[float]  # due -> row visible (commit time), sorted
    answered_ms: list[float]  # due -> 200 from the edge, sorted
    failures: int  # requests without a 200


async def latency(stack: EmbeddedStack, admin_url: str, template: str, kafka: KafkaSettings, rate: int,
                  seconds: float, work: Path) -> Latency:
    await track_commit_times(stack)
    url = await create_database(admin_url, template)
    port = free_port()
    env = {**child_env(stack, url, kafka, f"bench-lat-{uuid.uuid4().hex[:8]}"),
           "CONVSYNC_SPOOL_DIR": str(work / "spool")}
    commands = [[sys.executable, "-m", "convsync", "serve", "--port", str(port), "--no-access-log"],
                [sys.executable, "-m", "convsync", "consume"]]
    with processes(commands, env, [work / "serve.log", work / "consume-latency.log"]):
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        await _warm_up(f"http://127.0.0.1:{port}/webhook", url)
        mids, requests = _latency_requests(port, int(rate * seconds))
        outcomes = await open_loop("127.0.0.1", port, requests, rate, deadline_s=seconds + 60)
        sent = {mid: o.due_at for mid, o in zip(mids, outcomes, strict=True) if o.status == 200}
        answered = sorted((o.answered_at - o.due_at) * 1000 for o in outcomes
                          if o.status == 200 and o.answered_at is not None)
        return Latency(await _visible_after(url, sent), answered, len(outcomes) - len(sent))


def _latency_requests(port: int, total: int) -> tuple[list[str], list[bytes]]:
    """Signed single-event webhooks from 2,000 users of one page, prepared before the clock starts."""
    rng = random.Random(5)
    mids, requests = [], []
    for n in range(total):
        mid = f"m_lat_{n:09d}"
        body = webhook_body("104857600000001", str(6_000_000_000 + rng.randrange(2_000)), mid, 1_795_946_400_000 + n)
        headers = [("Content-Type", "application/json"), ("X-Hub-Signature-256", sign(body, SECRET.encode()))]
        mids.append(mid)
        requests.append(request_bytes("127.0.0.1", port, "/webhook", body, headers))
    return mids, requests


async def _post(session: aiohttp.ClientSession, endpoint: str, n: int, user: str) -> tuple[str, float, bool]:
    mid = f"m_lat_{n:09d}"
    body = webhook_body("104857600000001", user, mid, 1_795_946_400_000 + n)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, SECRET.encode())}
    started = time.time()
    try:
        async with session.post(endpoint, data=body, headers=headers) as response:
            return mid, started, response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return mid, started, False


async def _warm_up(endpoint: str, url: str, timeout_s: float = 60) -> None:
    """One event through the whole path: the consumer has joined its group when its row shows up."""
    async with aiohttp.ClientSession() as session:
        mid, _, _ = await _post(session, endpoint, 999_999_999, "6000000000")
    conn = await asyncpg.connect(url)
    deadline = time.monotonic() + timeout_s
    while not await conn.fetchval("SELECT count(*) FROM messages WHERE mid = $1", mid):
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up event never reached the database")
        await asyncio.sleep(0.2)
    await conn.close()


async def _visible_after(url: str, sent: dict[str, float], timeout_s: float = 60) -> list[float]:
    """Milliseconds from when each POST was due to the commit that made its row visible."""
    conn = await asyncpg.connect(url)
    deadline = time.monotonic() + timeout_s
    while await conn.fetchval("SELECT count(*) FROM messages WHERE mid LIKE 'm_lat_%'") < len(sent) + 1:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    rows = await conn.fetch("SELECT mid, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 AS at "
                            "FROM messages WHERE mid = ANY($1::text[])", list(sent))
    await conn.close()
    return sorted((r["at"] - sent[r["mid"]]) * 1000 for r in rows)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


# main --------------------------------------------------------------------------------------------

async def bench(args: argparse.Namespace, stack: EmbeddedStack, work: Path) -> None:
    admin_url = stack.database_url
    template = await create_template(admin_url)
    run_id = str(uuid.uuid4())
    records = traffic.mixed(args.records, pages=50, messages_per_conversation=20, seed=11, run_id=run_id)
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    log(f"records: {len(records)} {kinds}")
    kafka = KafkaSettings(bootstrap=stack.kafka_bootstrap, idempotence=False, events_partitions=args.partitions,
                          topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    await ensure_topics(kafka)
    log(f"preload: {await preload(kafka, records):,.0f} records/s")
    plan = [merge(map_record(r) for r in c) for c in chunks(records, CHUNK)]
    choice = await statement_choice(admin_url, template, plan[:8])  # 40k records are enough to compare
    rows: list[tuple[str, str, str, str]] = [
        ("messages upsert, unnest arrays", "1", f"{choice['unnest']:,.0f} rows/s", ""),
        ("messages upsert, COPY + merge", "1", f"{choice['copy+merge']:,.0f} rows/s",
         f"unnest/COPY {choice['unnest'] / choice['copy+merge']:.2f}")]
    for n in (1, 2):
        ceil = await ceiling(admin_url, template, records, run_id, n)
        got = await drain(stack, admin_url, template, kafka, len(records), run_id, n, work, args.timeout)
        rows.append((f"ceiling: write_batch, {n} connection(s)", str(n), f"{ceil:,.0f} records/s", ""))
        rows.append((f"drain: {n} x convsync consume", str(n), f"{got:,.0f} records/s",
                     f"ratio {got / ceil:.2f} (target >= 0.5)"))
        log(f"{n} consumer(s): ceiling {ceil:,.0f}/s, drain {got:,.0f}/s")
    for rate in (args.rates if args.latency_seconds > 0 else []):
        got = await latency(stack, admin_url, template, KafkaSettings(
            bootstrap=stack.kafka_bootstrap, idempotence=False, events_partitions=args.partitions,
            topic_prefix=f"lat{uuid.uuid4().hex[:6]}."), rate, args.latency_seconds, work)
        lat, answered = got.visible_ms, got.answered_ms
        rows.append((f"webhook POST -> 200 from the edge, {rate}/s", "1",
                     f"p50 {percentile(answered, 50):.0f} ms, p99 {percentile(answered, 99):.0f} ms", ""))
        rows.append((f"webhook POST -> row visible, {rate}/s for {args.latency_seconds:.0f}s", "1",
                     f"p50 {percentile(lat, 50):.0f} ms, p99 {percentile(lat, 99):.0f} ms, "
                     f"max {max(lat, default=float('nan')):.0f} ms",
                     f"{len(lat)} seen, {got.failures} non-200 (target p99 <= 500 ms at 2000/s)"))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  conns  {'rate':<44}  note")
    for name, conns, rate, note in rows:
        print(f"{name:<{width}}  {conns:>5}  {rate:<44}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--rates", type=lambda v: [int(x) for x in v.split(",")], default=[2000, 500],
                        help="webhook events per second for the latency cases (comma-separated)")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="0 skips the latency case")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up a drain after this long")
    parser.add_argument("--keep", type=Path, default=None, help="keep the child logs in this folder")
    run_on_embedded_stack(parser.parse_args(), bench)


def run_on_embedded_stack(args: argparse.Namespace,
                          bench: Callable[[argparse.Namespace, EmbeddedStack, Path], Coroutine[Any, Any, None]]) -> None:
    """`bench(args, stack, work)` on an embedded stack under a temp folder (or `args.keep`)."""
    with tempfile.TemporaryDirectory(prefix="convsync-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with embedded_stack(work / "stack", KafkaSettings(bootstrap=None, idempotence=False)) as stack:
            asyncio.run(bench(args, stack, work))


if __name__ == "__main__":
    main()
