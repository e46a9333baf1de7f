"""The consumer loop: poll a batch, decode and map (pure), write it in one transaction, dead-letter
poison, then commit the next offsets — always in that order, so a crash at any point replays at
most the last batch, which the forward-only writes absorb without a double effect.

Errors and what happens next (the database's are sorted by consumers.failures)
    RecordError (decode or map)   -> dead-letter: the record goes to the DLQ topic with headers naming
                                     its topic, partition, offset and the error, acked before the offset moves
    Refusal (the database refuses a record: out of range, too long for its index)
                                  -> dead-letter it with its SQLSTATE; the rest of the batch is written
    PoisonLimitExceeded           -> stop: too many poison records in a row; nothing of that batch is
                                     committed to Kafka (when the database's refusals made the run, the
                                     batch's good rows are in, and are absorbed when it is read again);
                                     the consumer exits with this error
    DatabaseUnavailable           -> retry: seek back to the batch start, back off, poll again (never DLQ)
    WriterDefect                  -> stop: a missing SQL file, an undefined column, a missing privilege;
                                     the consumer logs `writer_defect` naming it and exits 1
    KafkaError sending to the DLQ -> retry: seek back, back off, poll again (the rows already written are
                                     written again with no effect)
    CommitFailedError, KafkaError on commit
                                  -> abandon the commit: the group rebalanced (the next owner replays the
                                     batch) or the next commit covers these offsets
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from consumers import metrics, probes
from consumers.database import Database, Written
from consumers.deadletter import DeadLetters
from consumers.decoding import Decoded, decode_all
from consumers.failures import DatabaseUnavailable, WriterDefect
from consumers.policy import Backoff, BatchPolicy, PoisonPolicy
from consumers.store import WriteResult, load_statements
from kernel.settings import Settings, require
from kernel.startup import database_ready, kafka_started

log = structlog.get_logger("convsync.consumer")


class PoisonLimitExceeded(RuntimeError):
    """More consecutive poison records than the limit: stop rather than empty the topic into the DLQ."""


@dataclass(frozen=True, slots=True)
class BatchStats:
    records: int
    written: int
    dead_lettered: int
    inserted: int
    updated: int
    duration_s: float
    lag: int | None  # approximate on Tansu (it undercounts high watermarks)
    committed: bool


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no types
    """Revocation waits for the in-flight batch (held under `lock`) to finish and commit first."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            log.info("partitions_revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))


async def run_consumer(settings: Settings, *, stop: asyncio.Event | None = None,
                       on_batch: Callable[[BatchStats], None] | None = None,
                       probes_at: tuple[str, int] | None = None) -> None:
    """Run one consumer-group member until `stop` is set (the current batch is finished first).

    `probes_at` (host, port): serve /metrics, /healthz and /readyz there (consumers.probes)."""
    stop = stop or asyncio.Event()
    url = require(settings.database.url, "DATABASE_URL").reveal()
    load_statements()  # a broken installation stops here, naming the file
    await database_ready(url)
    listener = _Revocations()
    async with contextlib.AsyncExitStack() as stack:
        database = await stack.enter_async_context(Database(
            url, graph_unsends=settings.consumer.graph_unsends, server_settings=settings.database.server_settings()))
        dead_letters = await stack.enter_async_context(DeadLetters(settings.kafka))
        consumer = _group_member(settings, listener)
        if probes_at is not None:  # before joining the group: alive at once, ready once assigned

            async def checks() -> dict[str, bool]:
                return {"partitions_assigned": bool(consumer.assignment()), "database": await database.ping()}

            await stack.enter_async_context(probes.serving(*probes_at, checks))
        await kafka_started(consumer, settings.kafka, producer=False)
        stack.push_async_callback(consumer.stop)
        worker = _Worker(settings, consumer, database, dead_letters, on_batch)
        await worker.run(stop, listener.lock)


def _group_member(settings: Settings, listener: _Revocations) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=require(settings.kafka.bootstrap, "KAFKA_BOOTSTRAP"),
        group_id=settings.consumer.group_id, enable_auto_commit=False, auto_offset_reset="earliest",
        # a broker may hold an empty fetch for its whole max wait (Tansu does): keep it below the batch wait
        fetch_max_wait_ms=max(10, min(100, settings.consumer.batch_max_wait_ms // 2)))
    consumer.subscribe([settings.kafka.topics.events], listener=listener)
    return consumer


class _Worker:
    def __init__(self, settings: Settings, consumer: AIOKafkaConsumer, database: Database,
                 dead_letters: DeadLetters, on_batch: Callable[[BatchStats], None] | None) -> None:
        self.policy = BatchPolicy.from_settings(settings.consumer)
        self.poison = PoisonPolicy(settings.consumer.max_consecutive_poison)
        self.backoff = Backoff()
        self.consumer, self.database, self.dead_letters = consumer, database, dead_letters
        self.on_batch = on_batch
        self.poison_run = 0

    async def run(self, stop: asyncio.Event, lock: asyncio.Lock) -> None:
        failures = 0
        while not stop.is_set():
            records = await self.poll(stop)
            if not records:
                continue
            async with lock:
                failures = await self.attempt(records, failures)
            if failures:
                await _sleep_unless(stop, self.backoff.delay(failures))
        log.info("consumer_stopped")

    async def poll(self, stop: asyncio.Event) -> list[ConsumerRecord]:
        """Records until the batch policy says the batch is ready (or a stop is asked for)."""
        records: list[ConsumerRecord] = []
        first_at: float | None = None
        while not stop.is_set() and not self.policy.ready(len(records), first_at, time.monotonic()):
            timeout = self.policy.poll_timeout(first_at, time.monotonic())
            fetched = await self.consumer.getmany(timeout_ms=int(timeout * 1000),
                                                  max_records=self.policy.room(len(records)))
            records.extend(r for tp in sorted(fetched, key=lambda t: t.partition) for r in fetched[tp])
            first_at = first_at if first_at is not None or not records else time.monotonic()
            if not records and first_at is None:
                break  # idle: give the caller a chance to see `stop`
        return records

    async def attempt(self, records: list[ConsumerRecord], failures: int) -> int:
        """Process one batch; return the count of consecutive failed attempts (0 on success)."""
        started = time.monotonic()
        decoded = decode_all(records)
        self.check_poison(decoded, records)
        try:
            decoded, result = self.with_refusals(decoded, await self.database.write(
                [d.rows for d in decoded if d.rows is not None]))
        except DatabaseUnavailable as exc:
            self.seek_back(records)
            metrics.DB_RETRIES.inc()
            log.warning("batch_write_failed", records=len(records), attempt=failures + 1, error=str(exc))
            return failures + 1
        except WriterDefect as exc:
            log.error("writer_defect", error=str(exc))
            raise
        run = self.check_poison(decoded, records)
        try:
            await self.dead_letters.send([d for d in decoded if d.rows is None])
        except KafkaError as exc:  # the rows are in; the replay after the seek changes nothing
            self.seek_back(records)
            log.warning("dead_letter_failed", records=len(records), attempt=failures + 1, error=str(exc))
            return failures + 1
        committed = await self.commit(records)
        self.poison_run = run
        await self.report(decoded, result, time.monotonic() - started, committed)
        return 0

    def check_poison(self, decoded: Sequence[Decoded], records: list[ConsumerRecord]) -> int:
        """The consecutive-poison run after this batch; raise when it passes the limit."""
        run, exceeded = self.poison.run_after(self.poison_run, (d.rows is None for d in decoded))
        if exceeded:
            raise PoisonLimitExceeded(
                f"more than {self.poison.limit} consecutive poison records (last at partition "
                f"{records[-1].partition} offset {records[-1].offset}); stopping without committing")
        return run

    @staticmethod
    def with_refusals(decoded: list[Decoded], written: Written) -> tuple[list[Decoded], WriteResult]:
        """The batch with the records the database refused turned into poison (written in order)."""
        if not written.refused:
            return decoded, written.result
        good = [n for n, d in enumerate(decoded) if d.rows is not None]
        marked = list(decoded)
        for refusal in written.refused:
            n = good[refusal.index]
            marked[n] = decoded[n].refused(refusal.sqlstate, refusal.error)
            log.warning("record_refused", partition=decoded[n].record.partition, offset=decoded[n].record.offset,
                        sqlstate=refusal.sqlstate, error=refusal.error)
        return marked, written.result

    def seek_back(self, records: list[ConsumerRecord]) -> None:
        """Rewind each still-assigned partition to the first offset of the failed batch."""
        assigned = self.consumer.assignment()
        for tp, offset in _offsets(records, min).items():
            if tp in assigned:
                self.consumer.seek(tp, offset)

    async def commit(self, records: list[ConsumerRecord]) -> bool:
        assigned = self.consumer.assignment()
        offsets = {tp: o + 1 for tp, o in _offsets(records, max).items() if tp in assigned}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:  # the next owner or commit covers it
            log.warning("commit_abandoned", reason=exc.__class__.__name__, partitions=len(offsets))
            return False
        return True

    async def report(self, decoded: Sequence[Decoded], result: WriteResult, duration_s: float,
                     committed: bool) -> None:
        dead = sum(1 for d in decoded if d.rows is None)
        stats = BatchStats(len(decoded), len(decoded) - dead, dead, result.total_inserted,
                           result.total_updated, duration_s, await self.lag(), committed)
        _record_metrics(stats, result)
        log.info("batch_committed" if committed else "batch_uncommitted", records=stats.records,
                 dead_lettered=dead, inserted=stats.inserted, updated=stats.updated,
                 duration_ms=round(duration_s * 1000, 1), lag=stats.lag, lag_approximate=True)
        if self.on_batch is not None:
            self.on_batch(stats)

    async def lag(self) -> int | None:
        total: int | None = None
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                behind = max(0, highwater - await self.consumer.position(tp))
            except IllegalStateError:  # revoked meanwhile
                continue
            metrics.LAG.labels(str(tp.partition)).set(behind)
            total = (total or 0) + behind
        return total


def _offsets(records: list[ConsumerRecord], pick: Callable[[int, int], int]) -> dict[TopicPartition, int]:
    """Per partition, the offset `pick` (min or max) chooses among the batch's records."""
    found: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        found[tp] = pick(found.get(tp, r.offset), r.offset)
    return found


def _record_metrics(stats: BatchStats, result: WriteResult) -> None:
    metrics.BATCHES.inc()
    metrics.BATCH_SECONDS.observe(stats.duration_s)
    metrics.RECORDS.labels("written").inc(stats.written)
    metrics.RECORDS.labels("dead_lettered").inc(stats.dead_lettered)
    for table, count in result.inserted.items():
        metrics.ROWS.labels(table, "inserted").inc(count)
    for table, count in result.updated.items():
        metrics.ROWS.labels(table, "updated").inc(count)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
