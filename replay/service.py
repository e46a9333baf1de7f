"""Replays as a service: each one a `replays` row, run to the end and recorded, in the foreground or not.

    async with Replays(pool, kafka, secrets) as replays:
        row = await replays.run(selection, "cli", on_progress)    # `convsync replay`: wait for it
        replay_id = await replays.start(selection, "admin")        # `POST /admin/replays`: 202 at once
        row = await replays.get(replay_id)

The row is written when the replay starts, at most every `progress_every_s` while it runs, and when
it ends: `succeeded`, or `failed` with the error's class and message (Kafka and PostgreSQL errors,
which name no secret). Closing cancels the replays still running in the background and marks them
failed ("interrupted"); running one again is safe.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any

import asyncpg
import structlog

from kernel.kafka import producer
from kernel.producing import KafkaSink
from kernel.settings import KafkaSettings
from kernel.sqlfiles import statement
from kernel.startup import kafka_started
from ingest.signature import Keys
from replay.runner import Counts, replay
from replay.window import Selection

log = structlog.get_logger("convsync.replay")
Watcher = Callable[[Counts], Awaitable[None] | None]


def sql(name: str) -> str:
    return statement("replay", name)


class Replays:
    def __init__(self, pool: asyncpg.Pool, kafka: KafkaSettings, secrets: Sequence[bytes], *,
                 progress_every_s: float = 1.0) -> None:
        self._pool = pool
        self._kafka = kafka
        self._secrets = Keys(secrets)
        self._progress_every_s = progress_every_s
        self._producer = producer(kafka, linger_ms=5)
        self._sink = KafkaSink(self._producer, kafka.topics)
        self._running: dict[str, asyncio.Task[dict[str, Any]]] = {}

    async def __aenter__(self) -> Replays:
        await kafka_started(self._producer, self._kafka, producer=True)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        interrupted, tasks = list(self._running), list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            if interrupted:  # their rows say so (only those still running are changed)
                await self._pool.execute(sql("abandon_replays"), [uuid.UUID(i) for i in interrupted])
        finally:
            await self._producer.stop()

    async def start(self, selection: Selection, trigger: str) -> str:
        """Record the replay and run it in the background; its id."""
        replay_id = await self._create(selection, trigger)
        task = asyncio.get_running_loop().create_task(self._run(replay_id, selection, None))
        self._running[replay_id] = task
        task.add_done_callback(lambda _: self._running.pop(replay_id, None))
        return replay_id

    async def run(self, selection: Selection, trigger: str, watch: Watcher | None = None) -> dict[str, Any]:
        """Record the replay, run it to the end, and return its final row."""
        return await self._run(await self._create(selection, trigger), selection, watch)

    async def get(self, replay_id: str) -> dict[str, Any] | None:
        raw = await self._pool.fetchval(sql("replay"), uuid.UUID(replay_id))
        return None if raw is None else _decoded(raw)

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return [_decoded(r["replay"]) for r in await self._pool.fetch(sql("recent_replays"), limit)]

    async def _create(self, selection: Selection, trigger: str) -> str:
        replay_id = str(uuid.uuid4())
        await self._pool.execute(sql("create_replay"), uuid.UUID(replay_id), selection.source,
                                 sorted(selection.pages), selection.since_ms, selection.until_ms,
                                 selection.dry_run, trigger)
        log.info("replay_started", replay_id=replay_id, source=selection.source, pages=sorted(selection.pages),
                 since_ms=selection.since_ms, until_ms=selection.until_ms, dry_run=selection.dry_run)
        return replay_id

    async def _run(self, replay_id: str, selection: Selection, watch: Watcher | None) -> dict[str, Any]:
        last_written = 0.0

        async def progress(counts: Counts) -> None:
            nonlocal last_written
            if watch is not None:
                shown = watch(counts)
                if shown is not None:
                    await shown
            if time.monotonic() - last_written >= self._progress_every_s:
                last_written = time.monotonic()
                await self._pool.execute(sql("replay_progress"), uuid.UUID(replay_id), *_columns(counts))

        counts = Counts()
        try:
            await replay(self._kafka, selection, self._secrets, self._sink, replay_id, progress, counts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the replay fails; the process goes on
            log.warning("replay_failed", replay_id=replay_id, error=exc.__class__.__name__)
            await self._finish(replay_id, "failed", counts, f"{exc.__class__.__name__}: {exc}"[:500])
        else:
            await self._finish(replay_id, "succeeded", counts, None)
            log.info("replay_finished", replay_id=replay_id, scanned=counts.scanned, matched=counts.matched,
                     produced=counts.produced, skipped=counts.skipped)
        row = await self.get(replay_id)
        assert row is not None
        return row

    async def _finish(self, replay_id: str, status: str, counts: Counts, error: str | None) -> None:
        scanned, matched, produced, skipped, reasons, to_scan = _columns(counts)
        await self._pool.execute(sql("finish_replay"), uuid.UUID(replay_id), status, scanned, matched, produced,
                                 skipped, reasons, to_scan, error)


def _columns(counts: Counts) -> tuple[int, int, int, int, str, int]:
    return (counts.scanned, counts.matched, counts.produced, counts.skipped, json.dumps(dict(counts.reasons)),
            counts.to_scan)


def _decoded(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return dict(value)
