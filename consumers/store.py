"""Write one merged batch to PostgreSQL: one statement per table over column arrays (`unnest`).

Why `unnest` and not COPY into a temp table + merge: at the batch sizes the consumer uses (≤ 5000
records) both are one round trip per table, and `bench/consume.py` measures the two within noise of
each other; `unnest` needs no per-transaction temp table (no catalog churn, no `ON COMMIT DROP`
bookkeeping) and keeps each statement a plain, readable `.sql` file. The caller owns the transaction.

Every statement moves forward only and skips rows it would not change, so `RETURNING (xmax = 0)`
yields real inserted/updated counts and a replay returns nothing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from consumers.batch import Batch, ConversationUpsert
from consumers.failures import WriterDefect
from consumers.rows import (
    ContactRow,
    DeleteRow,
    EditRow,
    EventRow,
    GraphSpanRow,
    MessageRow,
    ReactionRow,
    ReadRow,
    SnapshotRow,
    ThreadKey,
)
from kernel.sqlfiles import StatementMissing, statement

MessageKey = tuple[str, str]  # (page_id, mid): a message's key, as in the messages table

# Every statement write_batch runs (tests/kernel/test_sqlfiles.py keeps this list complete).
STATEMENTS = (
    "upsert_conversations", "upsert_messages", "upsert_reactions", "upsert_message_edits",
    "upsert_message_deletes", "upsert_message_reads", "insert_conversation_events", "apply_message_edits",
    "apply_message_deletes", "apply_graph_texts", "apply_graph_unsends", "refresh_conversations", "add_sync_run_counts",
    "upsert_contacts",
)


def sql(name: str) -> str:
    """The statement in `consumers/sql/<name>.sql`; a file that is not there is our defect, not the database's."""
    try:
        return statement("consumers", name)
    except StatementMissing as exc:
        raise WriterDefect(f"the writer's {exc}") from None


def load_statements() -> None:
    """Read every statement now, so a broken installation stops the consumer at start-up."""
    for name in STATEMENTS:
        sql(name)


@dataclass(frozen=True, slots=True)
class RunCounts:
    inserted: int = 0
    updated: int = 0
    gap_messages: int = 0
    conversations_changed: int = 0  # conversations its snapshots inserted or changed


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Rows inserted and updated per table, and what each sync run's records did."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    runs: dict[str, RunCounts] = field(default_factory=dict)

    @classmethod
    def combine(cls, results: Iterable[WriteResult]) -> WriteResult:
        """The sum of several writes (the parts of a batch written under savepoints)."""
        inserted: Counter[str] = Counter()
        updated: Counter[str] = Counter()
        runs: dict[str, RunCounts] = {}
        for r in results:
            inserted.update(r.inserted)
            updated.update(r.updated)
            for run_id, c in r.runs.items():
                was = runs.get(run_id, RunCounts())
                runs[run_id] = RunCounts(was.inserted + c.inserted, was.updated + c.updated,
                                         was.gap_messages + c.gap_messages,
                                         was.conversations_changed + c.conversations_changed)
        return cls(dict(inserted), dict(updated), runs)

    @property
    def total_inserted(self) -> int:
        return sum(self.inserted.values())

    @property
    def total_updated(self) -> int:
        return sum(self.updated.values())


def _columns(rows: Sequence[Any], names: Iterable[str]) -> list[list[Any]]:
    return [[getattr(r, n) for r in rows] for n in names]


def _snapshot_columns(rows: Sequence[ConversationUpsert]) -> list[list[Any]]:
    snaps = [c.snapshot for c in rows]
    columns = [[getattr(s, n) if s else None for s in snaps] for n in SNAPSHOT_COLUMNS]
    return [[s.updated_ms if s else None for s in snaps], *columns]


async def _upsert(conn: asyncpg.Connection, name: str, columns: list[list[Any]]) -> list[asyncpg.Record]:
    if not columns or not columns[0]:
        return []
    return await conn.fetch(sql(name), *columns)


def fields_of(row_type: type, *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(row_type) if f.name not in without)


# The column arrays each statement takes, in order: the row types' own fields (consumers/rows.py), so
# a column is named once in Python and once in SQL (tests/consumers/test_columns.py holds each
# statement's `unnest(...) AS r(...)` to these).
CONVERSATION_COLUMNS = fields_of(ConversationUpsert, without=("snapshot", "by_webhook"))
SNAPSHOT_COLUMNS = fields_of(SnapshotRow, without=("page_id", "user_id", "platform", "updated_ms", "run_id"))
COLUMNS: dict[str, tuple[str, ...]] = {
    "upsert_conversations": (*CONVERSATION_COLUMNS, "snapshot_ms", *SNAPSHOT_COLUMNS),
    "upsert_messages": fields_of(MessageRow, without=("run_id",)),
    "upsert_reactions": fields_of(ReactionRow),
    "upsert_message_edits": fields_of(EditRow),
    "upsert_message_deletes": fields_of(DeleteRow),
    "upsert_message_reads": fields_of(ReadRow),
    "insert_conversation_events": fields_of(EventRow),
    "apply_graph_unsends": fields_of(GraphSpanRow, without=("run_id",)),
    "upsert_contacts": fields_of(ContactRow),
}


# (table, statement) of the other upserts, in the order write_batch runs them: edits and deletes before
# the messages (upsert_messages stamps a message with its Graph reading only when none is known for it),
# the rest after
PENDING_UPSERTS = (("message_edits", "upsert_message_edits"), ("message_deletes", "upsert_message_deletes"))
LATER_UPSERTS = (("reactions", "upsert_reactions"), ("message_reads", "upsert_message_reads"),
                 ("conversation_events", "insert_conversation_events"), ("contacts", "upsert_contacts"))
_ROWS: dict[str, Callable[[Batch], Sequence[Any]]] = {
    "upsert_messages": lambda b: b.messages, "upsert_reactions": lambda b: b.reactions,
    "upsert_message_edits": lambda b: b.edits, "upsert_message_deletes": lambda b: b.deletes,
    "upsert_message_reads": lambda b: b.reads, "insert_conversation_events": lambda b: b.events,
    "upsert_contacts": lambda b: b.contacts,
}


def upsert_columns(b: Batch, name: str) -> list[list[Any]]:
    """The column arrays upsert statement `name` takes for batch `b` (bench/growth.py writes the
    same rows through COPY)."""
    if name == "upsert_conversations":
        return [*_columns(b.conversations, CONVERSATION_COLUMNS), *_snapshot_columns(b.conversations)]
    return _columns(_ROWS[name](b), COLUMNS[name])


async def write_batch(conn: asyncpg.Connection, batch: Batch, *, graph_unsends: bool = True) -> WriteResult:
    """Apply `batch` inside the caller's transaction; return real per-table and per-run counts.
    `graph_unsends`: mark deleted what a Graph reading no longer holds (CONVSYNC_GRAPH_UNSENDS)."""
    b = batch
    convs = await _upsert(conn, "upsert_conversations", upsert_columns(b, "upsert_conversations"))
    counted = {table: await _upsert(conn, name, upsert_columns(b, name)) for table, name in PENDING_UPSERTS}
    msgs = await _upsert(conn, "upsert_messages", upsert_columns(b, "upsert_messages"))
    counted |= {table: await _upsert(conn, name, upsert_columns(b, name)) for table, name in LATER_UPSERTS}
    applied = await _apply_pending(conn, b)
    if graph_unsends:
        applied += await _upsert(conn, "apply_graph_unsends", _columns(b.spans, COLUMNS["apply_graph_unsends"]))
    refreshed = await _refresh(conn, b, msgs, applied)
    result = _result(b, convs, msgs, counted, applied, refreshed)
    await _add_run_counts(conn, result.runs)
    return result


async def _apply_pending(conn: asyncpg.Connection, b: Batch) -> list[asyncpg.Record]:
    """Edits and deletes of this batch, and those waiting for a message that arrived in it."""
    arrived = {(m.page_id, m.mid) for m in b.messages}
    edited = await _apply(conn, "apply_message_edits", arrived | {(e.page_id, e.mid) for e in b.edits})
    deleted = await _apply(conn, "apply_message_deletes", arrived | {(d.page_id, d.mid) for d in b.deletes})
    seen = [m for m in b.messages if m.graph_text is not None and m.graph_observed_ms is not None]
    repaired = await _upsert(conn, "apply_graph_texts",
                             _columns(seen, ("page_id", "mid", "graph_text", "graph_observed_ms")))
    return [*edited, *deleted, *repaired]


async def _apply(conn: asyncpg.Connection, name: str, keys: set[MessageKey]) -> list[asyncpg.Record]:
    """Run an apply_* statement over (page_id, mid) keys, in one order across concurrent writers."""
    if not keys:
        return []
    ordered = sorted(keys)
    return await conn.fetch(sql(name), [k[0] for k in ordered], [k[1] for k in ordered])


async def _refresh(conn: asyncpg.Connection, b: Batch, msgs: list[asyncpg.Record],
                   applied: list[asyncpg.Record]) -> set[ThreadKey]:
    """Recompute the conversations this batch touched. Besides them, the statement is given the
    messages it inserted or changed and the messages its reads name, the only ones that can move a
    conversation's counts and times (refresh_conversations.sql)."""
    keys = sorted({c.key for c in b.conversations} | {(r["page_id"], r["user_id"]) for r in applied})
    if not keys:
        return set()
    changed: dict[MessageKey, bool] = {(r.page_id, r.mid): False for r in b.reads}
    for r in msgs:
        changed[(r["page_id"], r["mid"])] = r["inserted"]
    ordered = sorted(changed)
    rows = await conn.fetch(sql("refresh_conversations"), [k[0] for k in keys], [k[1] for k in keys],
                            [k[0] for k in ordered], [k[1] for k in ordered], [changed[k] for k in ordered])
    return {(r["page_id"], r["user_id"]) for r in rows if r["changed"]}  # not those whose total alone moved


def _result(b: Batch, convs: list[asyncpg.Record], msgs: list[asyncpg.Record],
            counted: dict[str, list[asyncpg.Record]], applied: list[asyncpg.Record],
            refreshed: set[ThreadKey]) -> WriteResult:
    conv_inserted = {(r["page_id"], r["user_id"]) for r in convs if r["inserted"]}
    conv_touched = {(r["page_id"], r["user_id"]) for r in convs} | refreshed
    msg_inserted = {(r["page_id"], r["mid"]) for r in msgs if r["inserted"]}
    msg_touched = {(r["page_id"], r["mid"]) for r in msgs} | {(r["page_id"], r["mid"]) for r in applied}
    inserted = {"conversations": len(conv_inserted), "messages": len(msg_inserted)}
    updated = {"conversations": len(conv_touched - conv_inserted), "messages": len(msg_touched - msg_inserted)}
    for table, rows in counted.items():
        inserted[table] = sum(1 for r in rows if r["inserted"])
        updated[table] = len(rows) - inserted[table]
    # a run is credited with what its own rows changed, not with edits/deletes applied to them
    msg_upserted = {(r["page_id"], r["mid"]) for r in msgs}
    return WriteResult(inserted, updated, _run_counts(b, conv_inserted, conv_touched, msg_inserted, msg_upserted))


def _run_counts(b: Batch, conv_inserted: set[ThreadKey], conv_touched: set[ThreadKey],
                msg_inserted: set[MessageKey], msg_touched: set[MessageKey]) -> dict[str, RunCounts]:
    """What each run's graph records did. A row a webhook of the same batch also brought counts as the
    webhook's (as it would had the webhook come in an earlier batch), so counts do not depend on batching."""
    counts: Counter[tuple[str, str]] = Counter()
    for c in b.conversations:
        if c.snapshot is not None and c.key in conv_touched:
            created = c.key in conv_inserted and not c.by_webhook
            counts[(c.snapshot.run_id, "inserted" if created else "updated")] += 1
            counts[(c.snapshot.run_id, "conversations")] += 1
    for m in b.messages:
        key = (m.page_id, m.mid)
        if m.run_id is not None and m.source == "graph" and key in msg_touched:
            counts[(m.run_id, "inserted" if key in msg_inserted else "updated")] += 1
            counts[(m.run_id, "gap")] += key in msg_inserted
    run_ids = sorted({c.snapshot.run_id for c in b.conversations if c.snapshot}
                     | {m.run_id for m in b.messages if m.run_id})
    return {r: RunCounts(counts[(r, "inserted")], counts[(r, "updated")], counts[(r, "gap")],
                         counts[(r, "conversations")]) for r in run_ids}


async def _add_run_counts(conn: asyncpg.Connection, runs: dict[str, RunCounts]) -> None:
    if not runs:
        return
    ids = sorted(runs)  # one lock order across concurrent writers
    await conn.execute(sql("add_sync_run_counts"), ids, [runs[r].inserted for r in ids],
                       [runs[r].updated for r in ids], [runs[r].gap_messages for r in ids],
                       [runs[r].conversations_changed for r in ids])
