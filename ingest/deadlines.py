"""Body-read deadlines for many requests, enforced by one periodic sweep instead of a timer each.

A slow sender must get 408 instead of holding its request forever. `asyncio.timeout` around every
body read costs a timer, a context object and a reschedule per request, measurable on the edge's
hot path; nearly every read finishes at once anyway. Here a read registers its task and deadline in
a dict, and one sweeper task cancels the reads that are overdue. The sweep runs every `tick_s` (a
quarter of the timeout, at most 0.5 s), so a read is cut between `timeout_s` and `timeout_s +
tick_s` after it began.

    task = deadlines.begin()
    try:
        ...await the body...
    except asyncio.CancelledError:
        if deadlines.end(task):   # cut by its deadline: the cancellation is withdrawn
            ...answer 408...
        raise
    deadlines.end(task)

A cancellation can only land while the task waits inside the read (it is registered only between
`begin` and `end`, which are not separated by an await from the read), so it always arrives in the
`try` above.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping


def overdue(deadlines: Mapping[asyncio.Task[object], float], now: float) -> list[asyncio.Task[object]]:
    return [task for task, deadline in deadlines.items() if deadline <= now]


class ReadDeadlines:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.tick_s = min(0.5, timeout_s / 4)
        self._reading: dict[asyncio.Task[object], float] = {}
        self._cut: set[asyncio.Task[object]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # of the last read; see `begin`

    def begin(self) -> asyncio.Task[object]:
        # The loop is remembered: on Python 3.11 every `asyncio.get_running_loop()`, and so every
        # `current_task()` without a loop, is a getpid system call (a fork check), on every request.
        loop = self._loop
        task = None if loop is None else asyncio.current_task(loop)
        if loop is None or task is None:  # the first read, or one on another loop
            loop = self._loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
            if task is None:
                raise RuntimeError("a body read outside a task")
        self._reading[task] = loop.time() + self.timeout_s
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep())
        return task

    def end(self, task: asyncio.Task[object]) -> bool:
        """The read is over; True when its deadline cut it (and the cancellation is withdrawn)."""
        self._reading.pop(task, None)
        if task not in self._cut:
            return False
        self._cut.discard(task)
        task.uncancel()
        return True

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_s)
            for task in overdue(self._reading, loop.time()):
                del self._reading[task]
                self._cut.add(task)
                task.cancel("body read deadline")
