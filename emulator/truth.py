"""Ground truth: what convsync's tables must hold, and a diff of a real database against it.

`expected(world)` reads the world (pure). `compare(conn, expected, window=...)` reads the tables and
diffs them. Two modes, because Meta only lets a reconcile restore so much:

- `window=20` (default): what one complete sync restores after lost webhooks — every message still in
  Meta's 20-newest window of its conversation (not unsent) with its final text and direction, and every
  conversation's Graph id. Reactions, watermarks, edit counts and unsends travel only in webhooks, so
  they are not checked; older messages may be present or not (never "extra").
- `window=None`: everything, as after lossless webhook delivery plus a sync — all messages with
  `is_deleted` and `edit_count`, current reactions, delivery/read watermarks (Instagram: the time of
  the message read), and Graph ids where the database knows one.

Texts compare with NULL and "" equal (Graph answers "" for attachment-only messages).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from emulator.model import JSON
from emulator.world import World


@dataclass(frozen=True, slots=True)
class MessageRow:
    mid: str
    page_id: str
    user_id: str
    direction: str
    text: str | None
    is_deleted: bool
    edit_count: int
    in_window: bool


@dataclass(frozen=True, slots=True)
class ReactionRow:
    mid: str
    user_id: str
    reaction: str
    emoji: str


@dataclass(frozen=True, slots=True)
class ConversationRow:
    page_id: str
    user_id: str
    graph_id: str
    delivered_watermark: int | None  # epoch ms
    read_watermark: int | None
    listed: bool  # the Graph API lists it (not every message unsent), so a sync learns its graph id


@dataclass(frozen=True, slots=True)
class Expected:
    page_ids: tuple[str, ...]
    messages: dict[str, MessageRow]
    reactions: dict[tuple[str, str], ReactionRow]
    conversations: dict[tuple[str, str], ConversationRow]

    def as_json(self) -> JSON:
        return {
            "page_ids": list(self.page_ids),
            "messages": [_row(r) for r in self.messages.values()],
            "reactions": [_row(r) for r in self.reactions.values()],
            "conversations": [_row(r) for r in self.conversations.values()],
        }

    @classmethod
    def from_json(cls, body: JSON) -> Expected:
        """The inverse of `as_json`: for tests that read `GET /_emulator/truth` from another process."""
        messages = [MessageRow(**r) for r in body["messages"]]
        reactions = [ReactionRow(**r) for r in body["reactions"]]
        conversations = [ConversationRow(**r) for r in body["conversations"]]
        return cls(
            tuple(body["page_ids"]),
            {m.mid: m for m in messages},
            {(r.mid, r.user_id): r for r in reactions},
            {(c.page_id, c.user_id): c for c in conversations},
        )


def _row(row: Any) -> JSON:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def expected(world: World, page_ids: list[str] | None = None) -> Expected:
    chosen = tuple(page_ids if page_ids is not None else world.pages)
    messages: dict[str, MessageRow] = {}
    reactions: dict[tuple[str, str], ReactionRow] = {}
    conversations: dict[tuple[str, str], ConversationRow] = {}
    for conv in (c for p in chosen for c in world.conversations_of(p) if c.messages):
        window = {m.mid for m in conv.detail_window()}
        for m in conv.messages:
            messages[m.mid] = MessageRow(
                m.mid, m.page_id, m.user_id, m.direction, m.text, m.is_deleted, m.edit_count, m.mid in window
            )
            for user, r in m.reactions.items():
                reactions[(m.mid, user)] = ReactionRow(m.mid, user, r.reaction, r.emoji)
        conversations[(conv.page_id, conv.user_id)] = ConversationRow(
            conv.page_id,
            conv.user_id,
            conv.graph_id,
            conv.delivered_watermark,
            conv.read_watermark,
            bool(conv.visible()),
        )
    return Expected(chosen, messages, reactions, conversations)


@dataclass(slots=True)
class Diff:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.different)

    def report(self, limit: int = 50) -> str:
        if self.ok:
            return "database matches the ground truth"
        lines = [f"{len(self.missing)} missing, {len(self.extra)} extra, {len(self.different)} different"]
        for title, rows in (("missing", self.missing), ("extra", self.extra), ("different", self.different)):
            lines += [f"  {title}: {row}" for row in rows[:limit]]
            if len(rows) > limit:
                lines.append(f"  {title}: ... {len(rows) - limit} more")
        return "\n".join(lines)


async def compare(conn: asyncpg.Connection, expected: Expected, *, window: int | None = 20) -> Diff:
    """Diff the tables against `expected`; `window=20` checks what a reconcile restores, None all."""
    if window not in (None, 20):
        raise ValueError("window is 20 (Meta's detail window) or None")
    diff = Diff()
    pages = list(expected.page_ids)
    await _compare_messages(conn, expected, pages, window is None, diff)
    await _compare_conversations(conn, expected, pages, window is None, diff)
    if window is None:
        await _compare_reactions(conn, expected, pages, diff)
    return diff


def _same_text(a: str | None, b: str | None) -> bool:
    return (a or "") == (b or "")


Checks = dict[str, tuple[object, object]]  # column -> (expected, found)


def _diff_rows(
    diff: Diff,
    label: Callable[[Any], str],
    wanted: Mapping[Any, Any],
    known: Container[Any],
    actual: Mapping[Any, asyncpg.Record],
    checks: Callable[[Any, asyncpg.Record], Checks],
) -> None:
    """Missing: wanted but absent; extra: present but unknown to the world; different: per column."""
    diff.missing += [label(k) for k in wanted if k not in actual]
    diff.extra += [label(k) for k in actual if k not in known]
    for key, want in wanted.items():
        if (row := actual.get(key)) is not None:
            diff.different += [
                f"{label(key)}: {name} expected {a!r}, found {b!r}"
                for name, (a, b) in checks(want, row).items()
                if a != b
            ]


async def _rows(conn: asyncpg.Connection, sql: str, pages: list[str], *key: str) -> dict[Any, asyncpg.Record]:
    rows = await conn.fetch(sql, pages)
    return {(r[key[0]] if len(key) == 1 else tuple(r[k] for k in key)): r for r in rows}


def _ms(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


async def _compare_messages(
    conn: asyncpg.Connection, exp: Expected, pages: list[str], full: bool, diff: Diff
) -> None:
    sql = (
        "SELECT mid, page_id, user_id, direction, text, is_deleted, edit_count "
        "FROM messages WHERE page_id = ANY($1::text[])"
    )
    wanted = {mid: m for mid, m in exp.messages.items() if full or (m.in_window and not m.is_deleted)}

    def checks(m: MessageRow, row: asyncpg.Record) -> Checks:
        out: Checks = {name: (getattr(m, name), row[name]) for name in ("page_id", "user_id", "direction")}
        if full:
            out |= {name: (getattr(m, name), row[name]) for name in ("is_deleted", "edit_count")}
        if not m.is_deleted and not _same_text(m.text, row["text"]):
            out["text"] = (m.text, row["text"])
        return out

    actual = await _rows(conn, sql, pages, "mid")
    _diff_rows(diff, lambda mid: f"message {mid}", wanted, exp.messages, actual, checks)


async def _compare_conversations(
    conn: asyncpg.Connection, exp: Expected, pages: list[str], full: bool, diff: Diff
) -> None:
    sql = (
        "SELECT page_id, user_id, graph_id, delivered_watermark, read_watermark "
        "FROM conversations WHERE page_id = ANY($1::text[])"
    )
    wanted = {k: c for k, c in exp.conversations.items() if full or c.listed}

    def checks(c: ConversationRow, row: asyncpg.Record) -> Checks:
        out: Checks = {}
        if not full or row["graph_id"] is not None:
            out["graph_id"] = (c.graph_id, row["graph_id"])
        if full:
            out["delivered_watermark"] = (c.delivered_watermark, _ms(row["delivered_watermark"]))
            out["read_watermark"] = (c.read_watermark, _ms(row["read_watermark"]))
        return out

    actual = await _rows(conn, sql, pages, "page_id", "user_id")
    _diff_rows(diff, lambda k: f"conversation {k[0]}:{k[1]}", wanted, exp.conversations, actual, checks)


async def _compare_reactions(conn: asyncpg.Connection, exp: Expected, pages: list[str], diff: Diff) -> None:
    sql = (
        "SELECT r.mid, r.user_id, r.reaction, r.emoji FROM reactions r "
        "WHERE r.page_id = ANY($1::text[]) AND r.reaction IS NOT NULL"
    )

    def checks(r: ReactionRow, row: asyncpg.Record) -> Checks:
        return {"reaction": (r.reaction, row["reaction"]), "emoji": (r.emoji, row["emoji"])}

    actual = await _rows(conn, sql, pages, "mid", "user_id")
    _diff_rows(diff, lambda k: f"reaction {k[1]} on {k[0]}", exp.reactions, exp.reactions, actual, checks)
