#!/usr/bin/env python3
"""Where `convsync serve` spends its CPU per webhook request, by stage (issue 21).

    .venv/bin/python bench/edge_stages.py [--duration 10] [--workers 2] [--connections 64]

The same load as bench/webhook.py (wrk with signed single-event Meta bodies, the embedded Tansu,
acks=all), while py-spy samples every worker's stacks, Python and native. Each sample is put in
the stage of the innermost edge function on its stack (`STAGES`, first match); a sample inside a
write system call is put in its own stage, by whom it writes to (`WRITES`).

py-spy counts a thread as busy while it runs and while it is ready but waits for a core. On two
shared cores that waiting is large, and it gathers in the write system calls: a worker that writes
a Produce request wakes the broker, an answer wakes wrk, and the woken process often takes the
core right there. So the stages' shares are scaled to the workers' CPU plus that wait per request
(the scheduler's run delay), both measured as bench/webhook.py measures CPU (bench/proctime.py) in
a run without the sampler, which slows what it watches; the wait is printed beside them.

Needs `wrk` (apt-get) and `py-spy` (the `bench` extra, pip); installed when missing, saying so.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.proctime import CpuMeter  # noqa: E402
from bench.webhook import broker_running, convsync_serving, ensure_wrk, run_wrk, write_pool  # noqa: E402

# (stage, functions): a sample belongs to the first stage one of whose functions is on its stack.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Produce requests: encode, write, read the answers",
     ("ProduceRequests._request", "ProduceRequests.ship", "AIOKafkaConnection._read", "plan_requests")),
    ("records into batches: encode, partition, raw body copy", ("Coalescer._send",)),
    ("acknowledged: resolve the group's requests", ("Coalescer._settle",)),
    ("grouping: wait for quiet, deadline", ("Coalescer._hand_over",)),
    ("parse: JSON, split into records", ("parse_webhook",)),
    ("signature: HMAC-SHA256", ("check_signature",)),
    ("body read, limits, read deadline", ("read_body", "request_headers")),
    ("hand-over: submit, count", ("Delivery.accept",)),
    ("answer: uvicorn writes the response", ("answer (ingest/webhook.py)",)),
    ("HTTP: uvicorn parses, dispatches", ("HttpToolsProtocol", "RequestResponseCycle", "EdgeApp.__call__",
                                         "WebhookEndpoint.__call__")),
)
# py-spy counts these threads busy while they wait in a read: not the edge's work
IDLE = ("Thread._bootstrap", "Process.pong", "Process.always_pong")
# a sample whose innermost frame is a write system call: (stage, functions of the writer on the stack)
WRITE_CALLS = ("write (", "writev (", "send (", "sendto (", "sendmsg (", "__libc_write (", "__GI___libc_write (")
WRITES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("write system call to the broker (mostly waiting for a core after waking it)",
     ("ProduceRequests._request", "AIOKafkaConnection", "StreamWriter.write")),
    ("write system call answering the client (mostly waiting for a core after waking it)",
     ("answer (ingest/webhook.py)", "RequestResponseCycle.send")),
)
OTHER = "event loop (socket reads, callbacks), GC, the rest"
FRAME = re.compile(r" \((.*?):\d+\)$")


def ensure_py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if Path(found).exists():
        return found
    print("bench: py-spy is missing; installing the `bench` extra's py-spy with pip", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy>=0.4,<0.5"], check=True)
    return str(Path(sys.executable).with_name("py-spy"))


def stage_of(frames: list[str]) -> str | None:
    """The stage of one sample's stack (outermost first); None for a thread that is not serving."""
    if any(frame.startswith(IDLE) for frame in frames):  # uvicorn's ping thread, blocked in a read
        return None
    if frames and frames[-1].startswith(WRITE_CALLS):
        for stage, names in WRITES:
            if any(frame.startswith(name) for frame in frames for name in names):
                return stage
    for stage, names in STAGES:
        if any(frame.startswith(name) for frame in frames for name in names):
            return stage
    return OTHER


def worker_pids(server: int) -> list[str]:
    """uvicorn's worker processes under `server`, without multiprocessing's resource tracker (a
    child too, blocked in a read that py-spy would count as busy)."""
    children = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()
    workers = []
    for child in children:
        try:
            if "resource_tracker" not in Path(f"/proc/{child}/cmdline").read_text():
                workers.append(child)
        except OSError:  # gone since pgrep saw it
            continue
    return workers


def tally(paths: list[Path]) -> collections.Counter[str]:
    """Samples by stage over py-spy's raw (collapsed) outputs: "frame;frame;... count" per line."""
    counts: collections.Counter[str] = collections.Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            stack, count = line.rsplit(" ", 1)
            frames = [FRAME.sub(lambda m: f" ({m.group(1)})", f) for f in stack.split(";")]
            stage = stage_of(frames)
            if stage is not None:
                counts[stage] += int(count)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each of the two runs (default 10)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=12, help="of the events topic (default 12)")
    args = parser.parse_args()
    wrk, py_spy = ensure_wrk(), ensure_py_spy()
    work = Path(tempfile.mkdtemp(prefix="convsync-stages-"))
    try:
        pool = work / "pool.tsv"
        write_pool(pool)
        with (broker_running("tansu", args.partitions, work / "tansu.log") as (kafka, _),
              convsync_serving(args.workers, kafka, work / "spool") as (port, pid)):
            run_wrk(wrk, port, pool, args.connections, 2)  # warm-up
            meter = CpuMeter(pid)
            meter.start()
            measured = run_wrk(wrk, port, pool, args.connections, args.duration)
            us_per_request = meter.stop() * 1e6 / max(1, measured["requests"])
            waited_per_request = meter.waited() * 1e6 / max(1, measured["requests"])
            rps = measured["requests"] / (measured["duration_us"] / 1e6)
            workers = worker_pids(pid)
            outputs = [work / f"spy-{w}.txt" for w in workers]
            spies = [subprocess.Popen([py_spy, "record", "--pid", w, "--duration", str(args.duration),
                                       "--rate", "250", "--native", "--format", "raw", "--output", str(out)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for w, out in zip(workers, outputs, strict=True)]
            run_wrk(wrk, port, pool, args.connections, args.duration)
            for spy in spies:
                spy.wait(args.duration + 60)
        counts = tally([out for out in outputs if out.exists()])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(counts.values()) or 1
    busy = us_per_request + waited_per_request
    print(f"bench: {args.workers} workers, {args.connections} connections: {rps:.0f} req/s; per request "
          f"{us_per_request:.0f} us of the workers' CPU and {waited_per_request:.0f} us of their threads waiting "
          f"for a core (without the sampler); {total} samples while sampled\n")
    print("| stage | share of samples | us per request (on a core or waiting for one) |")
    print("|---|---|---|")
    for stage, _ in [*STAGES, *WRITES, (OTHER, ())]:
        share = counts.get(stage, 0) / total
        print(f"| {stage} | {100 * share:.1f}% | {share * busy:.1f} |")


if __name__ == "__main__":
    main()
