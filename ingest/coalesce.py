"""Coalesce the records of concurrent webhook requests into one Kafka batch per partition.

aiokafka's `send()` spends tens of microseconds of Python on every record (metadata check,
partitioner, accumulator, a future each), and a request awaited its own deadline and gather on
top. Instead, requests gather here and are then shipped together: their records go into one
record batch per topic-partition (`RecordBatch`, on aiokafka's C record builder), under one deadline
for the group. A request's future resolves when every batch of its group is acknowledged
(acks=all), or fails with the error, and the edge then spools that request.

When a group ships: once no request is still arriving (the edge calls `arriving()` when it
starts reading a request and `arrived()` when that request is submitted or refused) and two
passes of the event loop brought nothing new, or else when the oldest request has waited
`linger_s` (default 1 ms). Under light load the requests answered together come back together,
so a group ships the moment the last of them is parsed rather than at the end of a fixed wait: in
bench/webhook.py a fixed 2 ms was about half of every request's time at the edge, spent idle.
Under steady load requests keep arriving, and a group ships at the linger, or when the group before
it is answered if that takes longer. The linger is then a trade: shorter, and the broker waits less
for the next group (the machine stood idle 4.7% of the time at 1 ms against 6.7% at 2 ms in
bench/edge_settings.py, 5% more requests/s); zero, and groups shrink, which costs more CPU per
request in the client and the broker than the idle time saved. uvloop keeps the loop's time in
whole milliseconds, so a 1 ms linger ends when that clock next ticks, 0 to 1 ms after the oldest
request arrived; a finer setting would mean nothing.

The next group forms while the broker works on the previous one. Fewer, larger batches are what
keeps the CPU of the client and the broker down when they share the machine (bench/webhook.py).
The batches travel as Produce requests of the edge's own, one group in flight at a time
(`ingest.shipping`, which also says why not aiokafka's accumulator).

Partitions are chosen exactly as aiokafka's default partitioner does (`ingest.partition`), so a
thread's events share a partition with the reconciler's records for it. The raw bodies have no key
and all go to one partition of the archive chosen for the group (at random among those with a
leader, like Kafka's sticky partitioner for records without a key), each stamped with the time it
was received. Keyed by page, as they once were, a group's bodies were spread over up to every
partition of the archive: with 100 pages in bench/webhook.py that cost a fifth of the edge's
requests/s, in more and smaller batches for the edge and the broker. Nothing needs one page's
bodies in order: a replay reads every partition, and the writer orders by Meta's times, never by
arrival (DESIGN §2).

Each acknowledged group reports its latency, from its oldest request to the last acknowledgement,
to `on_produced` (the edge's produce-latency histogram).

Errors: the futures fail with `TimeoutError` (the deadline, counted from the oldest request of the
group; the wait for its acknowledgements is then cancelled), a `KafkaError`, or `BrokerUnavailable`
(no started producer): the errors `Delivery` spools on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from kernel.aiokafka_wire import Connections, RecordBatch
from kernel.kafka import MAX_BATCH_BYTES

from kernel.records import EventRecord, Topics, encode, key_bytes
from ingest.shipping import ProduceRequests
from ingest.received import Received

Partitioner = Callable[[bytes | None, Sequence[int], Sequence[int]], int]
Headers = list[tuple[str, bytes]]
_NO_HEADERS: Headers = []  # never changed: the record-batch builder only reads it


@dataclass(slots=True)
class _Submitted:
    request: Received
    records: Sequence[EventRecord]
    done: asyncio.Future[None]


class Coalescer:
    def __init__(self, producer: Callable[[], AIOKafkaProducer], topics: Topics, partitioner: Partitioner,
                 shipper: ProduceRequests, *, timeout_s: float, linger_s: float,
                 batch_bytes: int = MAX_BATCH_BYTES,
                 on_produced: Callable[[float], None] = lambda seconds: None) -> None:
        self._producer = producer
        self._topics = topics
        self._partitioner = partitioner
        self._shipper = shipper
        self._timeout_s = timeout_s
        self._linger_s = linger_s
        self._batch_bytes = batch_bytes  # of one partition's batch
        self._on_produced = on_produced
        self._waiting: list[_Submitted] = []
        self._oldest_at = 0.0  # loop time of the oldest waiting submission
        self._handing_over = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._arriving = 0  # requests being read or parsed, which may join the next group
        self._quiet: asyncio.Future[None] | None = None  # resolved when the last of them has arrived
        self._loop: asyncio.AbstractEventLoop | None = None  # of the group forming

    def submit(self, request: Received, records: Sequence[EventRecord]) -> asyncio.Future[None]:
        """Queue a request's records and raw body; the future resolves once Kafka has them all."""
        loop = self._loop
        if loop is None or not self._waiting:  # the first of a group; the others join it on its loop
            # asked once per group, not per request: on Python 3.11 it is a getpid system call
            loop = self._loop = asyncio.get_running_loop()
            self._oldest_at = loop.time()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append(_Submitted(request, records, done))
        if not self._handing_over:
            self._handing_over = True
            self._spawn(self._hand_over())
        return done

    def arriving(self) -> None:
        """A request has begun: the next group waits for it (up to the linger)."""
        self._arriving += 1

    def arrived(self) -> None:
        """That request was submitted, or refused."""
        self._arriving -= 1
        if not self._arriving and self._quiet is not None and not self._quiet.done():
            self._quiet.set_result(None)

    async def wait_settled(self) -> None:
        """Until every request submitted so far has its outcome (graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hand_over(self) -> None:
        loop = asyncio.get_running_loop()
        group: list[_Submitted] = []
        try:
            while self._waiting:
                await self._gathered(loop)
                await self._shipper.ready()
                group, self._waiting, oldest_at = self._waiting, [], self._oldest_at
                try:
                    async with asyncio.timeout_at(oldest_at + self._timeout_s):
                        acks = await self._send(group)
                except Exception as exc:
                    _fail(group, exc)
                else:
                    self._spawn(self._settle(group, acks, oldest_at))
                group = []
        except BaseException:  # cancelled: nobody may wait forever
            _fail([*group, *self._waiting], TimeoutError("webhook producer stopped"))
            self._waiting = []
            raise
        finally:
            self._handing_over = False

    async def _gathered(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until no request is arriving and two passes of the loop added nothing (a request the
        loop has just read starts in the pass after), or the oldest waiting one has lingered."""
        deadline = self._oldest_at + self._linger_s
        while loop.time() < deadline:
            if self._arriving:
                self._quiet = loop.create_future()
                try:
                    async with asyncio.timeout_at(deadline):
                        await self._quiet
                except TimeoutError:
                    return
                finally:
                    self._quiet = None
            waiting = len(self._waiting)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            if not self._arriving and len(self._waiting) == waiting:
                return

    async def _send(self, group: list[_Submitted]) -> list[asyncio.Task[None]]:
        producer = self._producer()
        events, raw = self._topics.events, self._topics.raw
        event_partitions = sorted(await producer.partitions_for(events))
        raw_partitions = sorted(await producer.partitions_for(raw))
        available = Connections(producer).available_partitions(raw)  # those with a leader
        raw_partition = self._partitioner(None, raw_partitions, available)  # the group's
        batches = Batches(self._batch_bytes)
        for submitted in group:
            for record in submitted.records:
                key = key_bytes(record)
                partition = self._partitioner(key, event_partitions, event_partitions)
                batches.append(events, partition, key, encode(record))
            request = submitted.request
            batches.append(raw, raw_partition, None, request.body, raw_headers(request),
                           timestamp=request.received_at)
        return await self._shipper.ship(producer, batches.all())

    async def _settle(self, group: list[_Submitted], acks: list[asyncio.Task[None]], oldest_at: float) -> None:
        try:
            async with asyncio.timeout_at(oldest_at + self._timeout_s):
                await asyncio.gather(*acks)  # cancelled at the deadline, which cancels the requests
        except Exception as exc:
            _fail(group, exc)
        else:
            for submitted in group:
                if not submitted.done.done():  # a caller that gave up has cancelled its future
                    submitted.done.set_result(None)
            self._on_produced(asyncio.get_running_loop().time() - oldest_at)


class Batches:
    """Record batches by topic-partition, each of up to `max_bytes`: a full batch is set aside
    and the next one started.

    An empty batch takes any record, however large (the producer's max_request_size and the
    edge's body limit bound it), so no record is ever refused here."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._open: dict[tuple[str, int], RecordBatch] = {}
        self._full: list[tuple[str, int, RecordBatch]] = []

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes,
               headers: Headers = _NO_HEADERS, *, timestamp: int | None = None) -> None:
        """`timestamp`: the record's CreateTime in epoch ms (None: now)."""
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is not None and batch.append(timestamp, key, value, headers):
            return
        if batch is not None:
            self._full.append((topic, partition, batch))
        batch = self._open[slot] = RecordBatch(self._max_bytes)
        if not batch.append(timestamp, key, value, headers):
            raise AssertionError("an empty record batch refused a record")

    def all(self) -> list[tuple[str, int, RecordBatch]]:
        """Every batch, full ones first; per partition in the order the records were appended."""
        return [*self._full, *((topic, partition, batch) for (topic, partition), batch in self._open.items())]


def raw_headers(request: Received) -> Headers:
    return [
        ("signature", request.signature.encode()),
        ("received_at", str(request.received_at).encode()),
        ("body_sha256", request.body_sha256.encode()),
    ]


def _fail(group: list[_Submitted], exc: BaseException) -> None:
    for submitted in group:
        if not submitted.done.done():
            submitted.done.set_exception(exc)
