"""Walk a page's conversation listings newest first and produce one graph record per conversation.

A walk never stores a cursor: it follows `paging.cursors.after` within one run only, and never the
same cursor twice: a listing that hands back a cursor already followed (a paging bug) would loop for
as long as the lease is renewed, so the run fails with `ListingLoop` instead. Incremental
walks read the inbox and stop at the first conversation older than the cutoff (the listing is
ordered by `updated_time`, newest first, so everything after it is older too). Full walks read
every folder to its end. Produced records are only *sent* here; the caller awaits every ack before
it moves the watermark, so the watermark never passes data that is not durably in Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kernel.jsonvalues import object_or_empty
from kernel.producing import RecordSink
from kernel.records import EventRecord, Platform
from kernel.settings import Secret
from reconciler.graph import Answer, CallStats, GraphClient
from reconciler.snapshot import (
    FULL_SYNC_FOLDERS,
    SnapshotError,
    listing_params,
    parse_time,
    read_listing,
    snapshot_record,
)

YIELD_EVERY = 10  # records produced between yields to the event loop


class ListingLoop(SnapshotError):
    """The Graph API handed back a listing cursor this walk already followed: fail the run, never loop."""


def check_cursor(seen: set[str], after: str, folder: str) -> None:
    """Remember `after`; raise ListingLoop when it was followed before in this folder."""
    if after in seen:
        raise ListingLoop(f"the {folder} listing repeated a cursor after {len(seen)} pages; "
                          "the run stops instead of reading the same page again")
    seen.add(after)


@dataclass(frozen=True, slots=True)
class WalkPlan:
    page_id: str  # what records and thread keys carry (an Instagram account's own id)
    graph_page_id: str  # the Graph node the inbox is listed at (DESIGN §2); paced as that node
    platform: Platform
    token: Secret = field(repr=False)
    folders: tuple[str, ...]
    cutoff: datetime | None  # stop below this updated_time (incremental); None: read to the end
    page_size: int
    run_id: str

    @classmethod
    def for_mode(cls, *, full: bool, cutoff: datetime | None, **rest: Any) -> WalkPlan:
        return cls(folders=FULL_SYNC_FOLDERS if full else ("inbox",), cutoff=None if full else cutoff, **rest)


@dataclass(slots=True)
class WalkResult:
    conversations: int = 0
    messages: int = 0
    newest: datetime | None = None
    acks: list[asyncio.Future[Any]] = field(default_factory=list)
    applied_check: list[tuple[str, datetime]] = field(default_factory=list)  # (graph id, updated_time)
    users: list[str] = field(default_factory=list)  # the people whose conversations were read

    def add(self, record: EventRecord, updated: datetime, ack: asyncio.Future[Any]) -> None:
        self.conversations += 1
        self.messages += len(record.event.get("messages", ()))
        self.newest = updated if self.newest is None or updated > self.newest else self.newest
        self.acks.append(ack)
        if record.user_id is not None:
            self.applied_check.append((str(record.event["conversation"]["id"]), updated))
            self.users.append(record.user_id)


Progress = Callable[[WalkResult, CallStats], None]


@dataclass(slots=True)
class Walker:
    graph: GraphClient
    sink: RecordSink
    clock_ms: Callable[[], int]
    on_progress: Progress | None = None

    async def walk(self, plan: WalkPlan, stats: CallStats) -> WalkResult:
        result = WalkResult()
        for folder in plan.folders:
            await self._folder(plan, folder, stats, result)
        return result

    async def _folder(self, plan: WalkPlan, folder: str, stats: CallStats, result: WalkResult) -> None:
        """Walk one folder. The next listing page is requested as soon as this one's cursor is known,
        so producing this page's records overlaps the next call: the governor alone sets the pace."""
        fetch = asyncio.create_task(self._fetch(plan, folder, plan.page_size, None, stats))
        followed: set[str] = set()
        try:
            while True:
                answer = await fetch
                listing = read_listing(answer.body)
                reached_cutoff = _reaches_cutoff(plan, listing.conversations)
                more = not reached_cutoff and listing.after is not None
                if more:
                    assert listing.after is not None
                    check_cursor(followed, listing.after, folder)
                    limit = int(answer.params.get("limit", plan.page_size))
                    fetch = asyncio.create_task(self._fetch(plan, folder, limit, listing.after, stats))
                    await asyncio.sleep(0)  # let the request go out before the CPU work of producing
                await self._produce(plan, folder, listing.conversations, result, answer.meta_time_ms)
                if self.on_progress is not None:
                    self.on_progress(result, stats)
                if not more:
                    return
        finally:
            if not fetch.done():
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)

    async def _fetch(self, plan: WalkPlan, folder: str, limit: int, after: str | None, stats: CallStats) -> Answer:
        params = listing_params(plan.platform, folder, limit, after)
        node = plan.graph_page_id
        return await self.graph.get(node, plan.token, f"{node}/conversations", params, stats)

    async def _produce(self, plan: WalkPlan, folder: str, conversations: Sequence[Any], result: WalkResult,
                       read_at_ms: int | None) -> None:
        """Send the records of one listing page, up to the first conversation below the cutoff."""
        for n, conversation in enumerate(conversations, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # other pages' requests are due too: never hog the loop for long
            updated = parse_time(object_or_empty(conversation).get("updated_time"))
            if plan.cutoff is not None and updated < plan.cutoff:
                return
            record = snapshot_record(conversation, page_id=plan.page_id, platform=plan.platform, folder=folder,
                                     run_id=plan.run_id, now_ms=self.clock_ms(), read_at_ms=read_at_ms)
            (ack,) = await self.sink.send_events([record])
            result.add(record, updated, ack)


def _reaches_cutoff(plan: WalkPlan, conversations: Sequence[Any]) -> bool:
    if plan.cutoff is None:
        return False
    return any(parse_time(object_or_empty(c).get("updated_time")) < plan.cutoff for c in conversations)


