"""Merge the rows of one batch so each key is written once, with the same rules the SQL applies.

PostgreSQL refuses an `INSERT ... ON CONFLICT DO UPDATE` that touches one key twice, and applying
the merged row must equal applying the rows one by one. So every merge below mirrors its statement
in `consumers/sql/`: watermarks and times only grow, the newest snapshot wins, a webhook copy of a
message beats a graph copy (gaps filled from either), the highest edit wins, the newest reaction
event wins. Output is sorted by key: concurrent writers then lock rows in one order. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from consumers.rows import (
    ContactRow,
    DeleteRow,
    EditRow,
    EventRow,
    GraphSpanRow,
    MessageRow,
    ReactionRow,
    ReadRow,
    Rows,
    SnapshotRow,
    ThreadKey,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConversationUpsert:
    """Everything a batch says about one conversation: first sight, watermarks, newest snapshot."""

    page_id: str
    user_id: str
    platform: str
    updated_ms: int | None = None
    delivered_ms: int | None = None
    read_ms: int | None = None
    owner_ms: int | None = None  # Meta's time of the newest handover that moved the thread
    owner_app_id: str | None = None  # the app it gave the thread to (None: not named)
    snapshot: SnapshotRow | None = None
    by_webhook: bool = False  # a webhook event of the batch saw it (so a snapshot did not create it)

    @property
    def key(self) -> ThreadKey:
        return (self.page_id, self.user_id)


@dataclass(frozen=True, slots=True)
class Batch:
    """The deduplicated rows of one batch, each key once, sorted by key."""

    conversations: tuple[ConversationUpsert, ...] = ()
    messages: tuple[MessageRow, ...] = ()
    reactions: tuple[ReactionRow, ...] = ()
    edits: tuple[EditRow, ...] = ()
    deletes: tuple[DeleteRow, ...] = ()
    reads: tuple[ReadRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    spans: tuple[GraphSpanRow, ...] = ()  # every Graph reading's span: each one judges on its own
    contacts: tuple[ContactRow, ...] = ()  # the last reading's names win


def merge(rows: Iterable[Rows]) -> Batch:
    """One `Batch` from the rows of many records, in record order."""
    items = list(rows)
    return Batch(
        conversations=_conversations(items),
        messages=_dedupe((r for x in items for r in x.messages), lambda m: (m.page_id, m.mid), merge_messages),
        reactions=_dedupe((r for x in items for r in x.reactions), lambda r: (r.page_id, r.mid, r.user_id), _newest_reaction),
        edits=_dedupe((r for x in items for r in x.edits), lambda e: (e.page_id, e.mid), _highest_edit),
        deletes=_dedupe((r for x in items for r in x.deletes), lambda d: (d.page_id, d.mid), _earliest("deleted_ms")),
        reads=_dedupe((r for x in items for r in x.reads), lambda r: (r.page_id, r.mid, r.reader_id), _earliest("read_ms")),
        events=_dedupe((r for x in items for r in x.events), lambda e: e.event_key, lambda a, _: a),
        spans=_dedupe((r for x in items for r in x.spans), lambda s: s, lambda a, _: a),
        contacts=_dedupe((r for x in items for r in x.contacts), lambda c: (c.page_id, c.user_id), _named),
    )


def _dedupe(rows: Iterable[T], key: Callable[[T], Hashable], combine: Callable[[T, T], T]) -> tuple[T, ...]:
    merged: dict[Hashable, T] = {}
    for row in rows:
        k = key(row)
        merged[k] = combine(merged[k], row) if k in merged else row
    return tuple(merged[k] for k in sorted(merged, key=repr))


def _named(a: ContactRow, b: ContactRow) -> ContactRow:
    """The later reading's names, the earlier one's where the later says nothing."""
    return dataclasses.replace(b, name=b.name or a.name, username=b.username or a.username)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def newer_snapshot(current: SnapshotRow | None, incoming: SnapshotRow | None) -> SnapshotRow | None:
    """The strictly newer snapshot wins; on a tie the one already there stays, but for its folder."""
    if current is None or (incoming is not None and incoming.updated_ms > current.updated_ms):
        return incoming
    if incoming is not None and incoming.updated_ms == current.updated_ms and incoming.folder is not None:
        return dataclasses.replace(current, folder=incoming.folder)  # the later reading says where it is now
    return current


def _conversations(items: list[Rows]) -> tuple[ConversationUpsert, ...]:
    """Fold first sights, watermarks and snapshots per conversation (plain dicts: this is the hot loop)."""
    acc: dict[ThreadKey, dict[str, Any]] = {}

    def at(page_id: str, user_id: str, platform: str) -> dict[str, Any]:
        key = (page_id, user_id)
        if key not in acc:
            acc[key] = {"page_id": page_id, "user_id": user_id, "platform": platform}
        return acc[key]

    for rows in items:
        for c in rows.conversations:
            up = at(c.page_id, c.user_id, c.platform)
            up["updated_ms"], up["by_webhook"] = _max(up.get("updated_ms"), c.seen_ms), True
        for w in rows.watermarks:
            up = acc[(w.page_id, w.user_id)]
            up["delivered_ms"] = _max(up.get("delivered_ms"), w.delivered_ms)
            up["read_ms"] = _max(up.get("read_ms"), w.read_ms)
        for h in rows.handovers:
            up = acc[(h.page_id, h.user_id)]
            if up.get("owner_ms") is None or owner_order(h.at_ms, h.owner_app_id) > owner_order(
                    up["owner_ms"], up["owner_app_id"]):
                up["owner_ms"], up["owner_app_id"] = h.at_ms, h.owner_app_id
        for s in rows.snapshots:
            up = at(s.page_id, s.user_id, s.platform)
            up["updated_ms"] = _max(up.get("updated_ms"), s.updated_ms)
            up["snapshot"] = newer_snapshot(up.get("snapshot"), s)
    return tuple(ConversationUpsert(**acc[k]) for k in sorted(acc))


def owner_order(at_ms: int, owner_app_id: str | None) -> tuple[int, str]:
    """Newest handover wins; on a tie the owner's id decides, so arrival order cannot (as in the SQL)."""
    return (at_ms, owner_app_id or "")


_FILLED = ("text", "attachments", "reply_to_mid", "quick_reply", "app_id", "metadata", "raw", "story")


def merge_messages(a: MessageRow, b: MessageRow) -> MessageRow:
    """Two copies of one message: the webhook copy leads (it is the system of record), each field
    falls back to the other copy when missing; a graph copy's run id is kept for the run's counts."""
    lead, other = (b, a) if (a.source, b.source) == ("graph", "webhook") else (a, b)
    filled = {name: getattr(lead, name) if getattr(lead, name) is not None else getattr(other, name)
              for name in _FILLED}
    seen = max((a, b), key=lambda m: m.graph_observed_ms or -1)  # the latest Graph reading
    timed = other if lead.time_unknown and not other.time_unknown else lead  # a known time beats arrival
    return dataclasses.replace(lead, **filled, run_id=a.run_id or b.run_id, graph_text=seen.graph_text,
                               graph_observed_ms=seen.graph_observed_ms, created_ms=timed.created_ms,
                               time_unknown=lead.time_unknown and other.time_unknown,
                               is_standby=a.is_standby or b.is_standby)


def reaction_order(r: ReactionRow) -> tuple[int, str, str]:
    """Newest event wins; the tie-break on content makes the outcome independent of arrival order."""
    return (r.reacted_ms, r.reaction or "", r.emoji or "")


def _newest_reaction(a: ReactionRow, b: ReactionRow) -> ReactionRow:
    return b if reaction_order(b) > reaction_order(a) else a


def _highest_edit(a: EditRow, b: EditRow) -> EditRow:
    return b if b.num_edit > a.num_edit else a


def _earliest(name: str) -> Callable[[T, T], T]:
    def pick(a: T, b: T) -> T:
        return b if getattr(b, name) < getattr(a, name) else a

    return pick
