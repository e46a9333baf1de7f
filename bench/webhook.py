#!/usr/bin/env python3
"""Benchmark of the webhook edge against its ceiling, measured in the same run (issue 4).

    .venv/bin/python bench/webhook.py [--duration 10] [--connections 64] [--workers 1,2]

(a) ceiling: bare Starlette that reads the body, checks the HMAC and answers 200 (bench/ceiling.py);
(b) `convsync serve` producing to a real broker (the embedded Tansu, or with `--broker apache`
    Apache Kafka with idempotence, started here) with acks=all, answering after Kafka acknowledged
    every record.
Both are served alike (uvicorn, uvloop, httptools, no access log, a listening socket per worker) and
loaded by the same generator: wrk with bench/wrk_webhook.lua, cycling through a pool of distinct,
signed, single-event Meta bodies from 100 pages (`--pages`).

Two cores shared by the servers, the broker and wrk make single runs vary by +-10%, so the two are
measured alternately for `--rounds` rounds (default 5): the table shows the medians, and the ratio
b/a is the median of the rounds' ratios. On Tansu each round of `convsync serve` gets a fresh
broker (`run_case`).
Each line also shows the CPU per request of the server's processes and of the broker
(bench/proctime.py): the ceiling does not pay for a broker, which shares the same two cores.
Needs `wrk` (Debian package; installed with apt-get when missing, saying so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convsync.embedded import Tansu, free_port  # noqa: E402
from kernel.kafka import ensure_topics  # noqa: E402
from kernel.settings import KafkaSettings  # noqa: E402
from ingest.signature import sign  # noqa: E402
from bench.proctime import CpuMeter, MachineShares  # noqa: E402
from tests.support.apache_kafka import ApacheKafka  # noqa: E402

SECRET = "bench-app-secret"
WORDS = "hallo danke bitte order delivery tomorrow size colour price ok \u00e4hnlich gr\u00fc\u00dfe \U0001f600".split()


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    workers: int
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    errors: int
    server_us: float  # CPU of the server's processes per request
    broker_us: float  # CPU of the broker per request
    per_produce: float | None = None  # webhooks per Produce request (convsync only)
    steal: float = 0.0  # share of the machine's CPU time the hypervisor gave other guests


PAGES = 100  # a support platform's edge receives the webhooks of many pages


def meta_body(n: int, rng: random.Random, pages: int = PAGES) -> bytes:
    """A realistic single-event Messenger webhook (one inbound text message) of one of `pages` pages,
    as Meta escapes it."""
    page, ts = str(104_857_600_000_001 + rng.randrange(pages)), 1_732_870_000_000 + n
    user = str(6_000_000_000_000_000 + rng.randrange(10_000))
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 40)))
    document = {"object": "page", "entry": [{"id": page, "time": ts + 7, "messaging": [{
        "sender": {"id": user}, "recipient": {"id": page}, "timestamp": ts,
        "message": {"mid": f"m_{n:012d}AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "text": text,
                    "nlp": {"intents": [], "entities": {}, "traits": {}, "detected_locales": [
                        {"locale": "de_DE", "confidence": 0.93}]}}}]}]}
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def write_pool(path: Path, size: int = 2000, pages: int = PAGES) -> int:
    rng = random.Random(4)
    bodies = [meta_body(n, rng, pages) for n in range(size)]
    path.write_text("".join(f"{sign(b, SECRET.encode())}\t{b.decode()}\n" for b in bodies))
    return sum(map(len, bodies)) // size


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk is missing; installing it with apt-get (Debian package `wrk`)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: server exited ({proc.returncode}) before answering {url}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, OSError):
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not answer 200 in time")


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], ready_url: str) -> Iterator[int]:
    """The server process, ready; yields its pid."""
    proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_http(ready_url, proc)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def run_wrk(wrk: str, port: int, pool: Path, connections: int, duration_s: int) -> dict[str, int]:
    done = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(ROOT / "bench/wrk_webhook.lua"),
         f"http://127.0.0.1:{port}", "--", str(pool)],
        capture_output=True, text=True, check=True, timeout=duration_s + 60)
    line = next(li for li in done.stdout.splitlines() if li.startswith("WRK_RESULT "))
    return dict(json.loads(line.removeprefix("WRK_RESULT ")))


def produce_counts(port: int) -> tuple[float, float] | None:
    """(accepted webhooks, Produce requests) so far, from convsync's /metrics (summed over its workers);
    None for a server without them (the ceiling)."""
    with contextlib.suppress(urllib.error.URLError, ConnectionError, OSError):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        accepted = produces = 0.0
        for line in text.splitlines():
            if line.startswith('convsync_webhook_requests_total{method="POST",status="200"}'):
                accepted += float(line.split()[-1])
            elif line.startswith("convsync_webhook_produce_seconds_count"):
                produces += float(line.split()[-1])
        return (accepted, produces) if produces else None
    return None


def measure(name: str, workers: int, target: Target, wrk: str, args: argparse.Namespace, pool: Path) -> Result:
    run_wrk(wrk, target.port, pool, args.connections, 1)  # warm-up, not counted
    counts_before = produce_counts(target.port) if name == "convsync" else None
    server_cpu = CpuMeter(target.server_pid)
    broker_cpu = CpuMeter(target.broker_pid) if target.broker_pid is not None else None
    server_cpu.start()
    if broker_cpu is not None:
        broker_cpu.start()
    machine = MachineShares()
    machine.start()
    raw = run_wrk(wrk, target.port, pool, args.connections, args.duration)
    machine.stop()
    per_request = 1e6 / max(1, raw["requests"])
    server_us = server_cpu.stop() * per_request
    broker_us = broker_cpu.stop() * per_request if broker_cpu is not None else 0.0
    counts_after = produce_counts(target.port) if counts_before is not None else None
    per_produce = None
    if counts_before is not None and counts_after is not None and counts_after[1] > counts_before[1]:
        per_produce = (counts_after[0] - counts_before[0]) / (counts_after[1] - counts_before[1])
    result = Result(name, workers, raw["requests"] / (raw["duration_us"] / 1e6), raw["p50_us"] / 1000,
                    raw["p99_us"] / 1000, raw["non2xx"], raw["errors"], server_us, broker_us, per_produce,
                    machine.steal)
    grouping = f", {per_produce:.1f} webhooks per Produce request" if per_produce is not None else ""
    print(f"  {name:<8} workers={workers}  {result.rps:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
          f"p99 {result.p99_ms:6.2f} ms  non-2xx {result.non2xx}  socket errors {result.errors}  "
          f"CPU/request: server {result.server_us:.0f} us, broker {result.broker_us:.0f} us{grouping}, "
          f"steal {100 * result.steal:.1f}%", flush=True)
    return result


def spooled_bytes(spool_dir: Path) -> int:
    return sum(p.stat().st_size for p in spool_dir.glob("*.spool")) if spool_dir.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to measure (default 1,2)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurements per case (default 5)")
    parser.add_argument("--broker", choices=("tansu", "apache"), default="tansu",
                        help="the embedded Tansu (default), or Apache Kafka with idempotence (fetched like the tests')")
    parser.add_argument("--partitions", type=int, default=12,
                        help="partitions of the events topic (default 12, the production default)")
    parser.add_argument("--pages", type=int, default=PAGES,
                        help=f"pages the webhooks come from (default {PAGES})")
    args = parser.parse_args()
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="convsync-bench-"))
    pool = work / "pool.tsv"
    print(f"bench: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; bodies ~{write_pool(pool, pages=args.pages)} B "
          f"from {args.pages} pages; {args.connections} connections, {args.duration} s each, {args.rounds} rounds, "
          f"{args.partitions} event partitions", flush=True)
    try:
        rounds = [r for workers in [int(w) for w in args.workers.split(",")]
                  for r in run_case(workers, args, wrk, pool, work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rounds)
    print_steal(rounds)


def run_case(workers: int, args: argparse.Namespace, wrk: str, pool: Path, work: Path) -> list[Round]:
    """The rounds of one worker count. The ceiling serves throughout; `convsync serve` gets a broker of
    its own each round when it is Tansu, which keeps its topics in memory and gets slower as they grow
    (its CPU per request rose by a third over three rounds of one broker), a cost no production
    broker has. Apache Kafka keeps one broker for the case."""
    ceiling_port = free_port()
    ceiling = [sys.executable, "bench/ceiling.py", "--port", str(ceiling_port), "--workers", str(workers)]
    rounds = []
    with server(ceiling, {"CONVSYNC_APP_SECRETS": SECRET}, f"http://127.0.0.1:{ceiling_port}/healthz") as a:
        if args.broker == "apache":
            with broker_running(args.broker, args.partitions, work / f"kafka-{workers}") as (kafka, broker_pid):
                with convsync_serving(workers, kafka, work / f"spool-{workers}") as (port, b):
                    for _ in range(args.rounds):
                        rounds.append(Round(workers, measure("ceiling", workers, Target(ceiling_port, a, broker_pid),
                                                             wrk, args, pool),
                                            measure("convsync", workers, Target(port, b, broker_pid), wrk, args,
                                                    pool)))
        else:
            for n in range(args.rounds):
                ceiling_result = measure("ceiling", workers, Target(ceiling_port, a, None), wrk, args, pool)
                with broker_running(args.broker, args.partitions, work / f"tansu-{workers}-{n}.log") as (kafka, broker_pid):
                    with convsync_serving(workers, kafka, work / f"spool-{workers}") as (port, b):
                        rounds.append(Round(workers, ceiling_result,
                                            measure("convsync", workers, Target(port, b, broker_pid), wrk, args,
                                                    pool)))
    print(f"  (convsync spooled {spooled_bytes(work / f'spool-{workers}')} bytes instead of producing)", flush=True)
    return rounds


@contextlib.contextmanager
def broker_running(kind: str, partitions: int, where: Path) -> Iterator[tuple[KafkaSettings, int]]:
    """A fresh broker ("tansu" or "apache") with the bench's topics: its settings and pid."""
    broker: Tansu | ApacheKafka = (ApacheKafka(where) if kind == "apache"
                                   else Tansu(port=free_port(), log_path=where))
    broker.start()
    try:
        assert broker.proc is not None
        kafka = KafkaSettings(bootstrap=broker.bootstrap, idempotence=kind == "apache", topic_prefix="bench.",
                              events_partitions=partitions)
        asyncio.run(ensure_topics(kafka))
        yield kafka, broker.proc.pid
    finally:
        broker.stop()


@contextlib.contextmanager
def convsync_serving(workers: int, kafka: KafkaSettings, spool: Path) -> Iterator[tuple[int, int]]:
    """`convsync serve` producing to `kafka`, ready: its port and pid."""
    port = free_port()
    env = {"CONVSYNC_APP_SECRETS": SECRET, "CONVSYNC_VERIFY_TOKEN": "bench", "CONVSYNC_LOG_FORMAT": "json",
           **kafka.environment(), "CONVSYNC_SPOOL_DIR": str(spool)}
    command = [sys.executable, "-m", "convsync", "serve", "--port", str(port), "--workers", str(workers),
               "--no-access-log"]
    with server(command, env, f"http://127.0.0.1:{port}/readyz") as pid:
        yield port, pid


@dataclass(frozen=True, slots=True)
class Target:
    port: int
    server_pid: int
    broker_pid: int | None  # None: no broker to measure


@dataclass(frozen=True, slots=True)
class Round:
    workers: int
    ceiling: Result
    convsync: Result


def print_table(rounds: list[Round]) -> None:
    print("\n| workers | ceiling req/s | p50 / p99 ms | convsync serve req/s | p50 / p99 ms | ratio b/a (rounds) "
          "| CPU/request: ceiling / convsync / broker |")
    print("|---|---|---|---|---|---|---|")
    for workers in sorted({r.workers for r in rounds}):
        mine = [r for r in rounds if r.workers == workers]
        a, b = [r.ceiling for r in mine], [r.convsync for r in mine]
        ratios = sorted(r.convsync.rps / r.ceiling.rps for r in mine)
        print(f"| {workers} | {_median(x.rps for x in a):.0f} | {_median(x.p50_ms for x in a):.2f} / "
              f"{_median(x.p99_ms for x in a):.2f} | {_median(x.rps for x in b):.0f} | "
              f"{_median(x.p50_ms for x in b):.2f} / {_median(x.p99_ms for x in b):.2f} | "
              f"{_median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}) | "
              f"{_median(x.server_us for x in a):.0f} / {_median(x.server_us for x in b):.0f} / "
              f"{_median(x.broker_us for x in b):.0f} us |")


def print_steal(rounds: list[Round]) -> None:
    """How quiet the machine was: CPU time the hypervisor gave other guests while measuring."""
    steals = [x.steal for r in rounds for x in (r.ceiling, r.convsync)]
    print(f"\nstolen by the hypervisor while measuring: median {100 * _median(steals):.1f}%, "
          f"max {100 * max(steals):.1f}% of the machine's CPU time (a quiet machine: near 0)")


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


if __name__ == "__main__":
    main()
