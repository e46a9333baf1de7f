#!/usr/bin/env python3
"""`convsync serve` under different values of one setting, in alternating rounds (issue 21).

    .venv/bin/python bench/edge_settings.py CONVSYNC_PRODUCER_LINGER_MS=1,2 [--rounds 4] [--duration 10]

The edge's defaults are chosen with this. On two shared cores the same code runs 20-30% faster or
slower from one minute to the next, so values measured in separate runs cannot be compared: here
each round measures every value once, on a fresh Tansu (bench/webhook.py says why), in an order that
rotates from round to round, under the load of bench/webhook.py (wrk, single-event bodies from 100
pages, 64 connections, 2 workers). Each measurement prints requests/s, the CPU per request of the
server and of the broker (bench/proctime.py), p99, and how much of the machine stayed idle; the
table gives the medians and, per value, how many rounds it won.

Idle matters because the load is a closed loop: a request is sent only when an answer came back, so
time in which no process can run (a group waiting to ship while the broker has nothing to do) is
throughput lost, even though no CPU is spent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.proctime import CpuMeter, MachineShares  # noqa: E402
from bench.webhook import broker_running, convsync_serving, ensure_wrk, run_wrk, write_pool  # noqa: E402


@dataclass(frozen=True, slots=True)
class Measured:
    value: str
    rps: float
    server_us: float
    broker_us: float
    p99_ms: float
    idle: float  # share of the machine's CPU time that was idle


@contextmanager
def setting(name: str, value: str) -> Iterator[None]:
    """`name=value` in the environment `convsync serve` inherits (bench.webhook.server passes it on)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def measure(name: str, value: str, wrk: str, pool: Path, work: Path, duration_s: int, tag: str) -> Measured:
    with setting(name, value), broker_running("tansu", 12, work / f"tansu-{tag}.log") as (kafka, broker_pid):
        with convsync_serving(2, kafka, work / "spool") as (port, server_pid):
            run_wrk(wrk, port, pool, 64, 1)  # warm-up, not counted
            server, broker = CpuMeter(server_pid), CpuMeter(broker_pid)
            server.start()
            broker.start()
            machine = MachineShares()
            machine.start()
            raw = run_wrk(wrk, port, pool, 64, duration_s)
            machine.stop()
            requests = max(1, raw["requests"])
            result = Measured(value, requests / (raw["duration_us"] / 1e6), server.stop() * 1e6 / requests,
                              broker.stop() * 1e6 / requests, raw["p99_us"] / 1000,
                              machine.idle)
    print(f"  {name}={value:<6} {result.rps:>8.0f} req/s  server {result.server_us:4.0f} us  broker "
          f"{result.broker_us:3.0f} us  p99 {result.p99_ms:5.1f} ms  idle {100 * result.idle:4.1f}%  "
          f"non-2xx {raw['non2xx']}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting", help="NAME=V1,V2,... (for example CONVSYNC_PRODUCER_LINGER_MS=1,2)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    args = parser.parse_args()
    name, _, listed = args.setting.partition("=")
    values = [v for v in listed.split(",") if v]
    if not name.startswith("CONVSYNC_") or len(values) < 2:
        parser.error("give a CONVSYNC_ setting and at least two values: NAME=V1,V2")
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="convsync-settings-"))
    pool = work / "pool.tsv"
    write_pool(pool)
    rounds: list[list[Measured]] = []
    try:
        for n in range(args.rounds):
            order = values[n % len(values):] + values[:n % len(values)]
            print(f"round {n + 1}", flush=True)
            rounds.append([measure(name, v, wrk, pool, work, args.duration, f"{n}-{v}") for v in order])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| {name} | req/s | rounds won | server CPU/request | broker CPU/request | p99 ms | idle |")
    print("|---|---|---|---|---|---|---|")
    for value in values:
        mine = [m for r in rounds for m in r if m.value == value]
        won = sum(1 for r in rounds if max(r, key=lambda m: m.rps).value == value)
        print(f"| {value} | {statistics.median(m.rps for m in mine):.0f} | {won} of {len(rounds)} "
              f"| {statistics.median(m.server_us for m in mine):.0f} us "
              f"| {statistics.median(m.broker_us for m in mine):.0f} us "
              f"| {statistics.median(m.p99_ms for m in mine):.1f} "
              f"| {100 * statistics.median(m.idle for m in mine):.1f}% |")


if __name__ == "__main__":
    main()
