#!/usr/bin/env python3
"""Soak: webhooks at a steady rate for minutes, with Meta's duplicate deliveries and one broker restart
in the middle (issue 20 §4).

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 200] [--duplicates 0.2] [--broker apache|tansu]

`convsync serve` and `convsync consume` run as their own processes against PostgreSQL and a broker
started here (Apache Kafka by default, fetched like the tests': its log survives the restart; Tansu
keeps topics in memory and loses them on a restart, so with `--broker tansu` the restart is skipped).
An open-loop generator (bench/loadgen.py) sends signed single-message webhooks at `--rate`; a share
`--duplicates` of the requests repeat an earlier body byte for byte, as Meta re-delivers. Halfway the
broker is stopped and started again (`--restart-s` down); the edge spools meanwhile.

Reported: what was lost (every message whose webhook got a 200 must be stored: must be 0) and
doubled (conversations' message counts against the unique messages sent), the resident memory of
each process sampled every 5 s (start, peak, end: growth must stay bounded), and per minute the
requests, failures and answer latency p50/p99 counted from when each request was due. Bounded: the
request count is fixed before the start, and every wait has a deadline. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.consume import percentile, processes, wait_http, webhook_body  # noqa: E402
from bench.loadgen import Outcome, open_loop, request_bytes  # noqa: E402
from convsync.embedded import Postgres, Tansu, free_port  # noqa: E402
from convsync.migrate import migrate_url  # noqa: E402
from ingest.signature import sign  # noqa: E402
from kernel.kafka import ensure_topics  # noqa: E402
from kernel.settings import KafkaSettings  # noqa: E402
from tests.support.apache_kafka import ApacheKafka  # noqa: E402

SECRET = "soak-app-secret"
PAGE = "104857600000777"
USERS = 5_000
SAMPLE_S = 5.0


@dataclass
class Plan:
    requests: list[bytes]
    mids: list[str]  # the message each request carries (a duplicate repeats an earlier one's)
    users: dict[str, str]  # mid -> user


def plan(port: int, total: int, duplicates: float, seed: int = 7) -> Plan:
    """`total` requests prepared before the clock starts; a `duplicates` share repeats an earlier one."""
    rng = random.Random(seed)
    requests: list[bytes] = []
    mids: list[str] = []
    users: dict[str, str] = {}
    for n in range(total):
        if requests and rng.random() < duplicates:
            k = rng.randrange(max(0, len(requests) - 2_000), len(requests))  # a recent one, as Meta retries
            requests.append(requests[k])
            mids.append(mids[k])
            continue
        mid, user = f"m_soak_{n:09d}", str(7_000_000_000 + rng.randrange(USERS))
        body = webhook_body(PAGE, user, mid, 1_795_946_400_000 + n)
        headers = [("Content-Type", "application/json"), ("X-Hub-Signature-256", sign(body, SECRET.encode()))]
        requests.append(request_bytes("127.0.0.1", port, "/webhook", body, headers))
        mids.append(mid)
        users[mid] = user
    return Plan(requests, mids, users)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Memory:
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))

    async def sample_forever(self, pids: dict[str, Callable[[], int | None]], stop: asyncio.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            for name, pid_of in pids.items():
                pid = pid_of()
                if pid is not None and (mb := rss_mb(pid)) is not None:
                    self.samples[name].append((time.monotonic() - started, mb))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_S)

    def table(self) -> str:
        lines = ["| process | RSS at start | peak | at end | end - first minute's peak |", "|---|---|---|---|---|"]
        for name, points in self.samples.items():
            values = [mb for _, mb in points]
            first_minute = max((mb for t, mb in points if t <= 60), default=values[0])
            lines.append(f"| {name} | {values[0]:.0f} MB | {max(values):.0f} MB | {values[-1]:.0f} MB "
                         f"| {values[-1] - first_minute:+.0f} MB |")
        return "\n".join(lines)


def per_minute(outcomes: list[Outcome], started: float) -> str:
    minutes: dict[int, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.due_at:
            minutes[int((o.due_at - started) // 60)].append(o)
    lines = ["| minute | requests | not 200 | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    for minute in sorted(minutes):
        group = minutes[minute]
        took = sorted((o.answered_at - o.due_at) * 1000 for o in group if o.status == 200 and o.answered_at)
        failed = sum(1 for o in group if o.status != 200)
        lines.append(f"| {minute + 1} | {len(group)} | {failed} | {percentile(took, 50):.1f} | "
                     f"{percentile(took, 99):.1f} | {max(took, default=float('nan')):.1f} |")
    return "\n".join(lines)


async def wait_stored(url: str, wanted: set[str], timeout_s: float) -> set[str]:
    """The accepted messages still missing from `messages` once they stop arriving (or time runs out)."""
    conn = await asyncpg.connect(url)
    try:
        deadline, missing = time.monotonic() + timeout_s, set(wanted)
        while missing and time.monotonic() < deadline:
            rows = await conn.fetch("SELECT mid FROM messages WHERE mid = ANY($1::text[])", list(missing))
            missing -= {r["mid"] for r in rows}
            if missing:
                await asyncio.sleep(1.0)
        return missing
    finally:
        await conn.close()


async def doubled(url: str, plan_: Plan, stored: set[str]) -> int:
    """Conversations whose message_count differs from the unique messages stored for them."""
    expected: dict[str, int] = defaultdict(int)
    for mid in stored:
        expected[plan_.users[mid]] += 1
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT user_id, message_count FROM conversations WHERE page_id = $1", PAGE)
    finally:
        await conn.close()
    return sum(1 for r in rows if r["message_count"] != expected.get(r["user_id"], 0))


async def restart_broker(broker: ApacheKafka | Tansu, at_s: float, down_s: float, log: list[str]) -> None:
    await asyncio.sleep(at_s)
    started = time.monotonic()
    await asyncio.to_thread(broker.stop)
    await asyncio.sleep(down_s)
    await asyncio.to_thread(broker.start)
    log.append(f"broker stopped at {at_s:.0f} s, back after {time.monotonic() - started:.1f} s")


async def soak(args: argparse.Namespace, work: Path) -> None:
    postgres = Postgres(pgdata=work / "pgdata", port=free_port())
    postgres.start()
    broker: ApacheKafka | Tansu = (ApacheKafka(work / "kafka") if args.broker == "apache"
                                   else Tansu(port=free_port(), log_path=work / "tansu.log"))
    broker.start()
    try:
        await migrate_url(postgres.url)
        kafka = KafkaSettings(bootstrap=broker.bootstrap, idempotence=args.broker == "apache",
                              topic_prefix=f"soak{uuid.uuid4().hex[:6]}.", events_partitions=8, raw_partitions=8)
        await ensure_topics(kafka)
        port, seconds = free_port(), args.minutes * 60
        env = {**os.environ, "CONVSYNC_DATABASE_URL": postgres.url, **kafka.environment(),
               "CONVSYNC_APP_SECRETS": SECRET, "CONVSYNC_VERIFY_TOKEN": "soak", "CONVSYNC_LOG_FORMAT": "json",
               "CONVSYNC_SPOOL_DIR": str(work / "spool")}
        load = plan(port, int(args.rate * seconds), args.duplicates)
        print(f"soak: {len(load.requests)} requests ({len(load.users)} unique messages) at {args.rate}/s "
              f"for {args.minutes} min; broker {args.broker}; logs in {work}", flush=True)
        commands = [[sys.executable, "-m", "convsync", "serve", "--port", str(port), "--no-access-log"],
                    [sys.executable, "-m", "convsync", "consume"]]
        with processes(commands, env, [work / "serve.log", work / "consume.log"]) as procs:
            await wait_http(f"http://127.0.0.1:{port}/healthz")
            memory, stop, events = Memory(), asyncio.Event(), list[str]()
            pids: dict[str, Callable[[], int | None]] = {"serve": lambda: procs[0].pid, "consume": lambda: procs[1].pid,
                    "broker": lambda: broker.proc.pid if broker.proc else None,
                    "postgres (postmaster)": lambda: postgres.proc.pid if postgres.proc else None}
            sampler = asyncio.create_task(memory.sample_forever(pids, stop))
            restart = (asyncio.create_task(restart_broker(broker, seconds / 2, args.restart_s, events))
                       if args.broker == "apache" else None)
            outcomes = await open_loop("127.0.0.1", port, load.requests, args.rate, deadline_s=seconds + 120)
            if restart is not None:
                await restart
            accepted = {load.mids[i] for i, o in enumerate(outcomes) if o.status == 200}
            missing = await wait_stored(postgres.url, accepted, timeout_s=180)
            stop.set()
            await sampler
        stored = accepted - missing
        print("\n".join(events))
        print(f"\naccepted {len(accepted)} unique messages ({sum(o.status == 200 for o in outcomes)} requests "
              f"answered 200); lost: {len(missing)}; conversations with a wrong count (doubled or lost): "
              f"{await doubled(postgres.url, load, stored)}\n")
        print(per_minute(outcomes, outcomes[0].due_at))
        print()
        print(memory.table())
    finally:
        broker.stop()
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="webhook requests per second")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share of requests that repeat an earlier one")
    parser.add_argument("--broker", choices=("apache", "tansu"), default="apache")
    parser.add_argument("--restart-s", type=float, default=5.0, help="how long the broker stays down")
    parser.add_argument("--keep", type=Path, default=None, help="keep the logs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convsync-soak-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        asyncio.run(soak(args, work))


if __name__ == "__main__":
    main()
