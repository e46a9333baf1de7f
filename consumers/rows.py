"""The typed rows one record maps to: the writer's vocabulary between decoding and SQL.

Times are epoch milliseconds (Meta's unit) until the SQL converts them; JSON columns travel as
canonical JSON text so rows compare and hash by value. `run_id` marks rows that came from a graph
record, so the writer can add what they did to that sync run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["inbound", "outbound"]
RowSource = Literal["webhook", "graph"]
ThreadKey = tuple[str, str]  # (page_id, user_id)


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A conversation seen by an event: created on first sight, `updated_at` only grows."""

    page_id: str
    user_id: str
    platform: str
    seen_ms: int | None


@dataclass(frozen=True, slots=True)
class WatermarkRow:
    """Delivery/read watermarks of a conversation; both only grow."""

    page_id: str
    user_id: str
    delivered_ms: int | None = None
    read_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A Graph conversation as the reconciler saw it at `updated_ms`; the newest one wins."""

    page_id: str
    user_id: str
    platform: str
    graph_id: str
    updated_ms: int
    message_count: int | None
    unread_count: int | None
    snippet: str | None
    participants: str | None
    can_reply: bool | None
    link: str | None
    folder: str | None  # the listing it was read from (inbox, other, page_done, pending, spam)
    run_id: str


@dataclass(frozen=True, slots=True)
class MessageRow:
    mid: str
    page_id: str
    user_id: str
    direction: Direction
    sender_id: str
    created_ms: int
    text: str | None
    attachments: str | None
    reply_to_mid: str | None
    quick_reply: str | None
    app_id: str | None
    metadata: str | None
    source: RowSource
    raw: str
    is_standby: bool = False  # came under `standby[]` (another app controlled the thread)
    story: str | None = None  # Instagram story reply or mention, canonical JSON {"type", "url", "id"}
    time_unknown: bool = False  # Meta's time could not be read: `created_ms` is the arrival time
    run_id: str | None = None
    # What the Graph API showed when the reconciler read it (graph copies only): repairs the text
    # of a message whose edit webhook was lost, when that reading is newer than the text we hold.
    graph_text: str | None = None
    graph_observed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ReactionRow:
    """A react (reaction set) or unreact (reaction None) by `user_id` on `mid`; newest event wins."""

    page_id: str
    mid: str
    user_id: str
    reaction: str | None
    emoji: str | None
    reacted_ms: int


@dataclass(frozen=True, slots=True)
class EditRow:
    mid: str
    page_id: str
    user_id: str
    num_edit: int
    text: str | None
    edited_ms: int


@dataclass(frozen=True, slots=True)
class DeleteRow:
    mid: str
    page_id: str
    user_id: str
    deleted_ms: int


@dataclass(frozen=True, slots=True)
class ReadRow:
    """An Instagram per-message read: `reader_id` has read `mid` (and so everything before it)."""

    mid: str
    reader_id: str
    page_id: str
    user_id: str
    read_ms: int


@dataclass(frozen=True, slots=True)
class EventRow:
    """A conversation event (postback, referral, handover, ...) stored once under `event_key`."""

    event_key: str
    page_id: str
    user_id: str | None
    kind: str
    occurred_ms: int | None
    payload: str
    referral_source: str | None = None  # ADS, SHORTLINK, ... of a referral (or a postback's referral)
    referral_ref: str | None = None
    time_unknown: bool = False


@dataclass(frozen=True, slots=True)
class HandoverRow:
    """Who controls a thread after a handover at `at_ms` (Meta's time); None: not named by the event."""

    page_id: str
    user_id: str
    owner_app_id: str | None
    at_ms: int


@dataclass(frozen=True, slots=True)
class GraphSpanRow:
    """What one Graph reading of a conversation covered: every message Meta still had whose time lies
    in [from_ms, to_ms) is among `mids` (canonical JSON array). Whole seconds of the oldest and newest
    message are left out, as Graph times have no milliseconds. A stored message inside the span that
    the reading lacks was unsent without a webhook (consumers/sql/apply_graph_unsends.sql)."""

    page_id: str
    user_id: str
    from_ms: int
    to_ms: int
    mids: str
    run_id: str


@dataclass(frozen=True, slots=True)
class ContactRow:
    """Who a conversation is with, as a Graph reading's participants name them (free with every sync):
    `name` on Messenger, `username` on Instagram; None when the reading did not say."""

    page_id: str
    user_id: str
    platform: str
    name: str | None
    username: str | None


@dataclass(frozen=True, slots=True)
class Rows:
    """Everything one record (or, merged, one batch) writes."""

    conversations: tuple[ConversationRow, ...] = ()
    watermarks: tuple[WatermarkRow, ...] = ()
    snapshots: tuple[SnapshotRow, ...] = ()
    messages: tuple[MessageRow, ...] = ()
    reactions: tuple[ReactionRow, ...] = ()
    edits: tuple[EditRow, ...] = ()
    deletes: tuple[DeleteRow, ...] = ()
    reads: tuple[ReadRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    handovers: tuple[HandoverRow, ...] = ()
    spans: tuple[GraphSpanRow, ...] = ()
    contacts: tuple[ContactRow, ...] = ()

    def count(self) -> int:
        return sum(len(getattr(self, name)) for name in TABLES)


TABLES = ("conversations", "watermarks", "snapshots", "messages", "reactions", "edits", "deletes", "reads",
          "events", "handovers", "spans", "contacts")
