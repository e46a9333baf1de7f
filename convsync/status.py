"""The live status of a running convsync: what `convsync dev` shows once a second.

`collect` reads PostgreSQL, Kafka and the emulator's counters into a `Snapshot` (I/O); `rates` and
`render` are pure. Lag is the committed position of the writer group against the partitions' end
offsets: exact on Apache Kafka, approximate on Tansu (which undercounts end offsets), and shown so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import asyncpg
from rich.table import Table

from kernel.lag import GroupLag
from kernel.settings import KafkaSettings
from kernel.sqlfiles import statement


@dataclass(frozen=True, slots=True)
class PageStatus:
    page_id: str
    platform: str
    status: str
    last_synced_at: dt.datetime | None
    last_run: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float  # monotonic seconds
    webhooks_delivered: int  # webhook events Meta (the emulator) got a 2xx for
    webhooks_lost: int  # dropped on purpose: the reconciler must find them
    messages: int
    conversations: int
    gap_messages: int  # messages the reconciler found that no webhook delivered
    lag: int | None
    pages: tuple[PageStatus, ...] = ()
    truth: str = "not checked yet"


@dataclass(frozen=True, slots=True)
class Rates:
    webhooks_per_s: float
    messages_per_s: float


def rates(before: Snapshot | None, now: Snapshot) -> Rates:
    if before is None or now.at <= before.at:
        return Rates(0.0, 0.0)
    span = now.at - before.at
    return Rates((now.webhooks_delivered - before.webhooks_delivered) / span, (now.messages - before.messages) / span)


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    return when.astimezone(dt.timezone.utc).strftime("%H:%M:%S")


def render(now: Snapshot, speed: Rates, *, lag_exact: bool) -> Table:
    table = Table(title="convsync dev", show_header=False, expand=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("webhooks", f"{speed.webhooks_per_s:6.1f}/s  delivered {now.webhooks_delivered}  "
                              f"lost on purpose {now.webhooks_lost}")
    lag = "?" if now.lag is None else f"{now.lag}{'' if lag_exact else ' (approximate on Tansu)'}"
    table.add_row("consumer lag", lag)
    table.add_row("stored", f"{now.messages} messages ({speed.messages_per_s:.1f}/s) in {now.conversations} conversations")
    table.add_row("gaps filled", f"{now.gap_messages} messages only the reconciler found (backfill + lost webhooks)")
    for page in now.pages:
        table.add_row(f"page {page.page_id}", f"{page.platform:9} {page.status:12} synced to {_ago(page.last_synced_at)}"
                                              f"  last run {page.last_run or '-'}")
    table.add_row("ground truth", now.truth)
    return table


@dataclass
class Collector:
    """Reads the counters; keep one for the life of the status line."""

    database_url: str
    kafka: KafkaSettings
    group_id: str
    _lag: GroupLag | None = field(default=None, init=False)

    async def database(self) -> tuple[int, int, int, tuple[PageStatus, ...]]:
        conn = await asyncpg.connect(self.database_url)
        try:
            totals = await conn.fetchrow(statement("convsync", "dev_totals"))
            rows = await conn.fetch(statement("convsync", "dev_pages"))
        finally:
            await conn.close()
        pages = tuple(PageStatus(r["page_id"], r["platform"], r["status"], r["last_synced_at"], r["last_run"])
                      for r in rows)
        assert totals is not None
        return int(totals["messages"]), int(totals["conversations"]), int(totals["gaps"]), pages

    async def lag(self) -> int | None:
        if self._lag is None:
            self._lag = GroupLag(self.kafka, self.group_id)
        return await self._lag.records()

    async def close(self) -> None:
        if self._lag is not None:
            await self._lag.close()
