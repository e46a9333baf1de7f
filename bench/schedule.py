"""The timer's schedule at scale, in virtual time (issue 21): 10,000 pages, 1-3 replicas.

    .venv/bin/python bench/schedule.py [--pages 10000] [--hours 6] [--replicas 1 2 3] [--seed 1]

Runs `reconciler.simulate` (the decision code production uses: `reconciler.schedule`) three ways in
the same process, each with the same pages, activity and losses:

  before   every page every interval, 8 pages at once per replica, a replica ticking only every poll
           (the timer as it was)
  fixed    the same schedule, but a replica ticks as soon as one of its runs ends
  adaptive reconciler.schedule: suspicious first, quiet pages stretched only as far as the app's
           budget needs for the pages there are (10,000 pages at 40 calls/s: 333 s; 30,000: 1,000 s),
           parallelism from that budget shared by the replicas (production today)

For each: syncs and Graph calls per hour, minutes over Meta's app limit (throttles), staleness (time
between two syncs of a page) p50/p99/max overall and per class, pages that waited past their
maximum staleness, and how soon lost webhooks were recovered (share within one interval, overall and
on pages already known to lose them). Virtual time: seconds of CPU, whatever the machine is doing.
Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from reconciler.schedule import SchedulePolicy
from reconciler.simulate import FixedSchedule, Policy, SimConfig, SimReport, simulate


def row(name: str, report: SimReport, seconds: float) -> str:
    classes = "  ".join(f"{k} {n} p50 {p50:.0f}s p99 {p99:.0f}s" for k, (n, p50, p99) in
                        report.staleness_by_class.items() if n)
    return (f"{name:9} {report.replicas} repl  syncs/h {report.syncs / report.hours:8,.0f}  calls/h "
            f"{report.calls_per_hour:8,.0f}  throttled min {report.throttled_minutes:3}  staleness p50 "
            f"{report.staleness_p50_s:5.0f}s p99 {report.staleness_p99_s:5.0f}s max {report.staleness_max_s:5.0f}s  "
            f"past max ({report.max_staleness_s:.0f}s) {report.pages_past_max_staleness:5}  gaps {report.gaps:4} "
            f"within 1 interval {report.gaps_within_interval:5.1%} (known lossy {report.known_gaps_within_interval:5.1%}, "
            f"p99 {report.gap_delay_p99_s:.0f}s)  parallel {report.mean_parallel:4.1f}  [{seconds:.1f}s CPU]\n"
            f"          {classes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ways: list[tuple[str, Policy, bool]] = [("before", FixedSchedule(), False), ("fixed", FixedSchedule(), True),
                                            ("adaptive", SchedulePolicy(), True)]
    print(f"{args.pages:,} pages, {args.hours:g} h of virtual time, seed {args.seed}; interval 300 s, "
          f"quiet pages up to {SchedulePolicy().quiet_bound_s(args.pages):.0f} s (3600 s at most), app budget 40 calls/s, "
          f"Meta's app limit 3000 calls/min")
    for replicas in args.replicas:
        for name, policy, wake in ways:
            config = SimConfig(pages=args.pages, replicas=replicas, hours=args.hours, seed=args.seed,
                               wake_on_finish=wake)
            started = time.process_time()
            report = simulate(config, policy)
            print(row(name, report, time.process_time() - started), flush=True)


if __name__ == "__main__":
    main()
