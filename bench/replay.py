#!/usr/bin/env python3
"""Benchmark of a replay against the writer's drain rate, measured in the same run (issue 16).

    .venv/bin/python bench/replay.py [--events 100000] [--partitions 8]

On the embedded stack (PostgreSQL + Tansu, started here under a temp folder):
(a) drain: the events of the archive preloaded on the events topic, consumed into an empty database
    by one `convsync consume` process (first to last batch, so the group join is not counted);
(b) replay: the same events archived as signed webhook bodies on the raw topic (three events a body,
    the edge's headers, no key), then `convsync replay --from raw` into an empty database with one
    `convsync consume` running: the replay's own rate (produced / its run time, from its `replays`
    row) and the time until the writer has written everything.
Target: the replay keeps the writer busy (replay rate >= 0.8 x the drain rate).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.consume import batch_lines, run_on_embedded_stack, child_env, drain, log, preload, processes  # noqa: E402
from convsync.embedded import EmbeddedStack  # noqa: E402
from kernel.kafka import ensure_topics  # noqa: E402
from kernel.settings import KafkaSettings  # noqa: E402
from tests.ingest.meta import SECRET as ARCHIVE_SECRET  # noqa: E402
from tests.replay.archive import Body, archive, bodies  # noqa: E402
from tests.support.databases import create_database, create_template  # noqa: E402


def kafka_for(stack: EmbeddedStack, partitions: int, name: str) -> KafkaSettings:
    return KafkaSettings(bootstrap=stack.kafka_bootstrap, idempotence=False, events_partitions=partitions,
                         raw_partitions=partitions, topic_prefix=f"{name}{uuid.uuid4().hex[:6]}.")


async def replay_into_empty_database(stack: EmbeddedStack, admin_url: str, template: str, kafka: KafkaSettings,
                                     events: int, work: Path, timeout_s: float) -> tuple[dict[str, object], float]:
    """The replay's final row, and the writer's rate from the replay's start to its last batch."""
    url = await create_database(admin_url, template)
    env = {**child_env(stack, url, kafka, f"bench-replay-{uuid.uuid4().hex[:8]}"),
           "CONVSYNC_APP_SECRETS": ARCHIVE_SECRET.decode()}  # the secret the archived bodies were signed with
    consume_log = work / "consume-replay.log"
    with processes([[sys.executable, "-m", "convsync", "consume"]], env, [consume_log]):
        await asyncio.sleep(8)  # the group join (about 5 s on Tansu), so it is not counted
        started = time.time()
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "convsync", "replay", "--from", "raw",
                                                        "--json"], env=env, capture_output=True, text=True,
                                       timeout=timeout_s, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"replay failed: {done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        log(f"replay {row['status']}: scanned {row['scanned']}, produced {row['produced']}, skipped {row['skipped']}")
        deadline = time.monotonic() + timeout_s
        while sum(e["records"] for e in batch_lines([consume_log])) < events:
            if time.monotonic() > deadline:
                raise SystemExit(f"the writer did not finish the replayed events; see {work}")
            await asyncio.sleep(0.5)
    last = max(datetime.fromisoformat(e["timestamp"]).timestamp() for e in batch_lines([consume_log]))
    return row, events / (last - started)


async def bench(args: argparse.Namespace, stack: EmbeddedStack, work: Path) -> None:
    admin_url = stack.database_url
    template = await create_template(admin_url)
    archived: list[Body] = bodies(args.events, seed=16, pages=50, per_body=3)
    records = [r for b in archived for r in b.records()]
    log(f"{len(records):,} events in {len(archived):,} bodies")

    drained = kafka_for(stack, args.partitions, "drain")
    await ensure_topics(drained)
    await preload(drained, records)
    drain_rate = await drain(stack, admin_url, template, drained, len(records), str(uuid.uuid4()), 1, work,
                             args.timeout)
    log(f"drain: {drain_rate:,.0f} events/s")

    replayed = kafka_for(stack, args.partitions, "replay")
    await ensure_topics(replayed)
    await archive(replayed, archived)
    row, end_to_end = await replay_into_empty_database(stack, admin_url, template, replayed, len(records), work,
                                                       args.timeout)
    seconds = (datetime.fromisoformat(str(row["finished_at"])) - datetime.fromisoformat(str(row["started_at"])))
    replay_rate = int(str(row["produced"])) / seconds.total_seconds()
    log(f"replay: {replay_rate:,.0f} events/s; replay to rows: {end_to_end:,.0f} events/s")

    lines = [
        ("drain: 1 x convsync consume, preloaded events", f"{drain_rate:,.0f} events/s", "the baseline"),
        ("replay: convsync replay --from raw (verify, parse, produce)", f"{replay_rate:,.0f} events/s",
         f"ratio {replay_rate / drain_rate:.2f} of the drain (target >= 0.8)"),
        ("replay to rows: replay start -> writer's last batch", f"{end_to_end:,.0f} events/s",
         f"ratio {end_to_end / drain_rate:.2f} of the drain"),
    ]
    print(f"replayed {row['produced']} events of {row['scanned']} bodies, skipped {row['skipped']}")
    width = max(len(n) for n, _, _ in lines)
    for name, rate, note in lines:
        print(f"{name:<{width}}  {rate:>16}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up a phase after this long")
    parser.add_argument("--keep", type=Path, default=None, help="keep the child logs in this folder")
    run_on_embedded_stack(parser.parse_args(), bench)


if __name__ == "__main__":
    main()
