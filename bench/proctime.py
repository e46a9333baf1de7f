"""CPU time of process trees (Linux /proc), so a benchmark can say where the CPU went.

On a two-core machine the server, the broker and the load generator share the cores, so requests/s
alone mixes how efficient the server is with how much the others took. `CpuMeter` reads user+system
time of a process and its descendants before and after a measurement, and how long their threads
were ready to run but waited for a core (the scheduler's run delay, /proc/PID/task/TID/schedstat).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat(int(name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def run_delay_seconds(pids: list[int]) -> float:
    """Seconds the threads of `pids` spent runnable but waiting for a core (0 where the kernel
    keeps no schedstat)."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


@dataclass
class CpuMeter:
    """CPU seconds a process tree spends between `start()` and `stop()` (the tree as of start)."""

    root: int
    _pids: list[int] = field(default_factory=list)
    _started: float = 0.0
    _waited_from: float = 0.0

    def start(self) -> None:
        self._pids = descendants(self.root)
        self._started = cpu_seconds(self._pids)
        self._waited_from = run_delay_seconds(self._pids)

    def stop(self) -> float:
        return cpu_seconds(self._pids) - self._started

    def waited(self) -> float:
        """Seconds the tree's threads were ready to run but waited for a core, since `start()` (counting
        threads alive at both ends: one that ended between them takes its wait with it, hence the floor)."""
        return max(0.0, run_delay_seconds(self._pids) - self._waited_from)


@dataclass
class MachineShares:
    """Shares of the whole machine's CPU time over a measurement (/proc/stat): idle (with iowait),
    and stolen by the hypervisor for other guests (a "quiet machine" steals next to nothing)."""

    _start: list[int] = field(default_factory=list)
    idle: float = 0.0
    steal: float = 0.0

    @staticmethod
    def _ticks() -> list[int]:
        with open("/proc/stat") as f:
            return [int(n) for n in f.readline().split()[1:]]

    def start(self) -> None:
        self._start = self._ticks()

    def stop(self) -> MachineShares:
        delta = [after - before for after, before in zip(self._ticks(), self._start, strict=False)]
        total = max(1, sum(delta[:8]))  # user nice system idle iowait irq softirq steal (guest is in user)
        self.idle = (delta[3] + delta[4]) / total
        self.steal = delta[7] / total if len(delta) > 7 else 0.0
        return self
