"""Reconciler benchmark: the old app's table, against the emulator at Meta's pace.

    .venv/bin/python bench/reconcile.py [--conversations 1000] [--pages 5] [--latency-ms 300] [--rate 2]

Runs on the embedded PostgreSQL and broker (started here, in a temporary folder) with the emulator in
its own process (Meta's rendering is not our CPU) at `--latency-ms` per call and `--rate` calls/s per page. Rows:

  1. first sync of N conversations (20 messages each)   2. second sync, 10 conversations changed
  3. third, 50 changed                                   4. fourth, nothing changed
  5. first sync of `--pages` pages of N, in parallel

For each: wall time (start of the run to Kafka-acked watermark), Graph calls, throttled calls, and
the floor: the calls the emulator's largest usable `limit` makes necessary (max `limit` 100, but
`limit x 20 nested messages` must stay within its data budget: 50), one per empty folder a full sync
must still ask, paced at the rate limit, plus one latency: `(calls - 1) / rate + latency` ("floor",
with the configured latency). The emulator is one Python process whose rendering of 50 conversations
x 20 messages adds to that latency, more so when five pages call at once; "served floor" is the same
formula with the emulator's measured mean answer time, and with calls one answer apart when answers
take longer than the rate interval (a listing's next cursor comes from the previous answer). It
shows what the reconciler itself adds. Each row starts once earlier calls left the rate window. Targets:
zero throttled calls and every wall time <= 1.15 x its floor. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import multiprocessing
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path, and bench/emulator.py would shadow the
# `emulator` package: look the packages up from the installed project instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from convsync.embedded import embedded_stack
from convsync.migrate import migrate_url
from emulator.graph import GraphConfig
from emulator.resolve import Limits
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.world import World, WorldConfig
from kernel.settings import KafkaSettings, Settings, load
from reconciler import pages
from reconciler.resources import open_pool, open_reconciler
from reconciler.run import RunOutcome
from reconciler.service import Reconciler
from reconciler.snapshot import FULL_SYNC_FOLDERS
from reconciler.tokens import TokenCipher, new_key

APP_SECRET = "bench-app-secret"
NESTED_MESSAGES = 20
OLD_APP_CLAIMS = {"first sync": "15-20 s", "10 new": "1-3 s", "50 new": "3-5 s", "0 new": "0.5 s",
                  "parallel": "20 s"}


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    wall_s: float
    calls: int
    throttled: int
    floor_calls: int
    floor_s: float  # the floor: paced at the rate, plus the configured latency
    served_floor_s: float  # the same with the emulator's measured answer time as the latency
    conversations: int
    answer_s: float  # mean time the emulator took to answer one call during the row

    @property
    def ratio(self) -> float:
        return self.wall_s / self.floor_s

    @property
    def served_ratio(self) -> float:
        return self.wall_s / self.served_floor_s


def usable_limit(limits: Limits) -> int:
    return min(limits.max_limit, limits.data_budget // NESTED_MESSAGES)


def floor_calls_full(world: World, page_id: str, limit: int) -> int:
    convs = world.conversations_of(page_id)
    return sum(max(1, math.ceil(sum(1 for c in convs if c.folder == f) / limit)) for f in FULL_SYNC_FOLDERS)


def floor_calls_incremental(world: World, page_id: str, watermark: datetime, overlap_s: float, limit: int) -> int:
    """Conversations at or above the cutoff, plus the first one below it (how a walk knows it is done)."""
    cutoff = watermark - timedelta(seconds=overlap_s)
    inbox = [c for c in world.conversations_of(page_id) if c.folder == "inbox"]
    above = sum(1 for c in inbox if datetime.fromtimestamp(c.updated_ms // 1000, UTC) >= cutoff)
    return max(1, math.ceil(min(len(inbox), above + 1) / limit))


def floor_seconds(calls: int, rate: float, latency_s: float) -> float:
    """Calls start one rate interval apart, or one answer apart when answers are slower than that
    (a listing's next cursor comes from the previous answer), and the last answer takes one latency."""
    return (calls - 1) * max(1.0 / rate, latency_s) + latency_s


async def timed_runs(reconciler: Reconciler, page_ids: list[str]) -> tuple[float, list[RunOutcome]]:
    started_at = time.perf_counter()
    started = [await reconciler.start(page_id, "auto", "bench") for page_id in page_ids]
    outcomes = [await s.task for s in started]
    return time.perf_counter() - started_at, outcomes


def touch(world: World, page_id: str, count: int) -> None:
    """`count` of the oldest conversations get a new message (they jump to the top of the listing)."""
    oldest = sorted(world.conversations_of(page_id), key=lambda c: c.updated_ms)[:count]
    for conv in oldest:
        world.user_message(page_id, conv.user_id)


def emulator_process(config: EmulatorConfig, conn: Connection) -> None:
    """The emulator in its own process (as Meta is): its rendering does not share our CPU."""
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        async with run_emulator(config) as emu:
            conn.send(emu.graph_url)
            while True:
                command, *rest = await loop.run_in_executor(None, conn.recv)
                if command == "stop":
                    return
                conn.send(answer(emu, command, rest))

    asyncio.run(serve())


def answer(emu: Emulator, command: str, rest: list[Any]) -> Any:
    if command == "pages":
        return [(p.page_id, p.platform, p.name, p.access_token, p.graph_page_id) for p in emu.world.pages.values()]
    if command == "stats":
        return sum(emu.stats.calls.values()), sum(emu.stats.throttled.values())
    if command == "touch":
        touch(emu.world, rest[0], rest[1])
        return None
    if command == "floor_full":
        return floor_calls_full(emu.world, rest[0], rest[1])
    return floor_calls_incremental(emu.world, *rest)


class RemoteEmulator:
    """Asks the emulator process over a pipe; one question at a time."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def ask(self, *command: Any) -> Any:
        self.conn.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)


@contextlib.asynccontextmanager
async def emulator_elsewhere(config: EmulatorConfig) -> AsyncIterator[tuple[str, RemoteEmulator]]:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=emulator_process, args=(config, theirs), daemon=True)
    process.start()
    remote = RemoteEmulator(ours)
    try:
        url = await asyncio.get_running_loop().run_in_executor(None, ours.recv)
        yield url, remote
    finally:
        ours.send(("stop",))
        await asyncio.get_running_loop().run_in_executor(None, process.join, 10)
        if process.is_alive():
            process.kill()


async def register(settings: Settings, remote: RemoteEmulator) -> list[str]:
    cipher = TokenCipher(settings.graph.token_keys)
    found = await remote.ask("pages")
    async with open_pool(settings) as pool, pool.acquire() as conn:
        for page_id, platform, name, token, graph_page_id in found:
            await pages.upsert(conn, page_id, platform, name, cipher.encrypt(token), graph_page_id)
    return sorted(p[0] for p in found)


async def scenario(settings: Settings, args: argparse.Namespace, world: WorldConfig, name_rows: list[tuple[str, int]],
                   ) -> list[Row]:
    """Sync the world's pages once per (row name, conversations to touch first); -1: first sync."""
    graph = GraphConfig(calls_per_second=args.rate, latency_ms=args.latency_ms, app_secret=APP_SECRET)
    rows, limit = [], usable_limit(graph.limits)
    async with emulator_elsewhere(EmulatorConfig(world=world, graph=graph)) as (url, remote):
        settings = dataclasses.replace(settings, graph=dataclasses.replace(settings.graph, url=url))
        page_ids = await register(settings, remote)
        async with open_reconciler(settings) as reconciler:
            for name, touched in name_rows:
                floors = await planned_floors(reconciler, remote, page_ids, touched, limit, settings)
                await asyncio.sleep(1.0 / args.rate)  # the last row's calls leave the rate window
                calls0, thr0 = await remote.ask("stats")
                wall, outcomes = await timed_runs(reconciler, page_ids)
                assert all(o.status == "succeeded" for o in outcomes), [o.error for o in outcomes]
                calls1, thr1 = await remote.ask("stats")
                answer_s = sum(o.tally.answer_s for o in outcomes) / max(1, sum(o.tally.graph_calls for o in outcomes))
                rows.append(Row(name, wall, calls1 - calls0, thr1 - thr0, sum(floors),
                                max(floor_seconds(f, args.rate, args.latency_ms / 1000) for f in floors),
                                max(floor_seconds(f, args.rate, answer_s) for f in floors),
                                sum(o.tally.conversations for o in outcomes), answer_s))
    return rows


async def planned_floors(reconciler: Reconciler, remote: RemoteEmulator, page_ids: list[str], touched: int,
                         limit: int, settings: Settings) -> list[int]:
    if touched < 0:
        return [await remote.ask("floor_full", p, limit) for p in page_ids]
    floors = []
    for page_id in page_ids:
        await remote.ask("touch", page_id, touched)
        async with reconciler.ctx.pool.acquire() as conn:
            watermark = await conn.fetchval("SELECT last_synced_at FROM pages WHERE page_id = $1", page_id)
        floors.append(await remote.ask("floor_incremental", page_id, watermark, settings.reconciler.overlap_s, limit))
    return floors


async def bench(settings: Settings, args: argparse.Namespace) -> list[Row]:
    one = WorldConfig(seed=1, pages=1, conversations_per_page=args.conversations,
                      messages_per_conversation=NESTED_MESSAGES)
    rows = await scenario(settings, args, one, [("first sync", -1), ("10 new", 10), ("50 new", 50), ("0 new", 0)])
    many = dataclasses.replace(one, seed=2, pages=args.pages)
    return rows + await scenario(settings, args, many, [("parallel", -1)])


def table(rows: list[Row], args: argparse.Namespace) -> str:
    head = (f"reconcile bench: {args.conversations} conversations x {NESTED_MESSAGES} messages, "
            f"{args.latency_ms:.0f} ms latency, {args.rate:g} calls/s per page, parallel = {args.pages} pages\n")
    lines = [f"{'row':<11} {'convs':>6} {'wall s':>7} {'calls':>6} {'thrott':>6} {'floor calls':>11} "
             f"{'floor s':>8} {'x floor':>7} {'answer s':>8} {'served floor':>12} {'x served':>8}  "
             f"{'old app claimed':>15}"]
    for r in rows:
        lines.append(f"{r.name:<11} {r.conversations:>6} {r.wall_s:>7.2f} {r.calls:>6} {r.throttled:>6} "
                     f"{r.floor_calls:>11} {r.floor_s:>8.2f} {r.ratio:>7.2f} {r.answer_s:>8.2f} "
                     f"{r.served_floor_s:>12.2f} {r.served_ratio:>8.2f}  {OLD_APP_CLAIMS[r.name]:>15}")
    for label, ratio in (("floor", "ratio"), ("served floor", "served_ratio")):
        met = all(r.throttled == 0 and getattr(r, ratio) <= 1.15 for r in rows)
        lines.append(f"targets (0 throttled, every row <= 1.15 x {label}): {'met' if met else 'NOT met'}")
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convsync-bench-") as folder:
        kafka = KafkaSettings(bootstrap=None, idempotence=False, topic_prefix="bench.")
        with embedded_stack(Path(folder), kafka) as stack:
            asyncio.run(migrate_url(stack.database_url))
            base = load({"CONVSYNC_TOKEN_KEY": new_key(), "CONVSYNC_APP_SECRETS": APP_SECRET,
                         "CONVSYNC_GRAPH_CALLS_PER_SECOND": str(args.rate), "CONVSYNC_LOG_FORMAT": "json"})
            settings = base.with_infrastructure(stack.database_url, stack.kafka_bootstrap, idempotence=False)
            settings = dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka, topic_prefix="bench."))
            rows = asyncio.run(bench(settings, args))
    print(table(rows, args))


if __name__ == "__main__":
    main()
