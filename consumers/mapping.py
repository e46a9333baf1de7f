"""Map one decoded `EventRecord` to the rows it writes. Pure: no I/O, no clock.

Webhook records carry one untouched `messaging[]` item; graph records carry a conversation snapshot
with its newest messages. A record whose content cannot be mapped (a message without `mid`, a graph
run id that is not a UUID) raises `RecordError`: the consumer dead-letters it like an undecodable one.
So does a value the mapper knows its column cannot hold (an `integer` past 2^31, a time past the year
9999, which PostgreSQL would store but no Python client could read back), before the database is asked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from consumers.rows import (
    TABLES,
    ContactRow,
    ConversationRow,
    DeleteRow,
    EditRow,
    EventRow,
    GraphSpanRow,
    HandoverRow,
    MessageRow,
    ReactionRow,
    ReadRow,
    Rows,
    SnapshotRow,
    WatermarkRow,
)
from kernel import jsoncodec
from kernel.jsonvalues import integer_or_none, required_object, required_text
from kernel.records import EventRecord, RecordError
from kernel.times import epoch_ms, graph_time_ms

Event = Mapping[str, Any]


MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
INT4_MAX = 2**31 - 1
INT4_COLUMNS = frozenset({"num_edit", "message_count", "unread_count"})  # `integer` in the tables


def map_record(record: EventRecord) -> Rows:
    """The rows of one record; raise RecordError when its content is unusable."""
    if record.source == "graph":
        return check_ranges(_snapshot(record))
    mapper = _WEBHOOK_MAPPERS.get(_kind(record))
    rows = mapper(record) if mapper else _conversation_event(record)
    return check_ranges(_with_touch(record, rows))


def check_ranges(rows: Rows) -> Rows:
    """`rows`, unless a time or a count in them cannot be stored in its column (RecordError)."""
    for table in TABLES:
        for row in getattr(rows, table):
            for name in _ranged(type(row)):
                value = getattr(row, name)
                if type(value) is not int:  # noqa: E721 - exactly int (bools are not counts)
                    continue
                if name.endswith("_ms") and not 0 <= value <= MAX_TIME_MS:
                    raise RecordError(f"{name} {value} is outside the years 1970-9999")
                if name in INT4_COLUMNS and not -INT4_MAX - 1 <= value <= INT4_MAX:
                    raise RecordError(f"{name} {value} does not fit a 32-bit integer column")
    return rows


_RANGED: dict[type[Any], tuple[str, ...]] = {}


def _ranged(row_type: type[Any]) -> tuple[str, ...]:
    """The fields of a row type that hold a time (`*_ms`) or a 32-bit count, found once per type."""
    names = _RANGED.get(row_type)
    if names is None:
        names = _RANGED[row_type] = tuple(field.name for field in dataclasses.fields(row_type)
                                          if field.name.endswith("_ms") or field.name in INT4_COLUMNS)
    return names


def canonical_json(value: Any) -> str:
    """One text per JSON value (sorted keys) so equal payloads compare and hash equal (the key of a
    conversation event, a span's message ids): the stdlib's, so keys made before stay the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def jsonb_text(value: Any) -> str:
    """A JSON value as text for a jsonb column: orjson, several times faster than `canonical_json`
    on a message's event, with the same sorted keys. The two may spell a number differently (orjson
    writes 0.00001 where the stdlib writes 1e-05), which jsonb does not keep; an infinity (an
    overflowing number such as 1e400) is written as null, where the stdlib's `Infinity` made
    PostgreSQL refuse the whole record."""
    return jsoncodec.dumps_text(value)


def _kind(record: EventRecord) -> str:
    if record.kind == "unknown" and "policy-enforcement" in record.event:
        return "policy_enforcement"  # the older spelling
    return record.kind


def _with_touch(record: EventRecord, rows: Rows) -> Rows:
    if record.user_id is None:
        return rows
    touch = ConversationRow(record.page_id, record.user_id, record.platform,
                            None if time_unknown(record) else event_ms(record))
    return Rows(**{**_fields(rows), "conversations": (touch,)})


def _fields(rows: Rows) -> dict[str, Any]:
    return {name: getattr(rows, name) for name in rows.__slots__}


def event_ms(record: EventRecord) -> int:
    """Meta's event time: the record's, else the event's own (ms, or dashboard string seconds), else arrival."""
    if record.timestamp is not None:
        return record.timestamp
    millis = epoch_ms(record.event.get("timestamp"))
    return millis if millis is not None else record.received_at


def time_unknown(record: EventRecord) -> bool:
    """Meta's time could not be read (not epoch seconds or milliseconds, such as ISO-8601 text): the
    event is kept, and its rows say that the time they carry is the arrival time."""
    return record.timestamp is None and epoch_ms(record.event.get("timestamp")) is None


def _require_user(record: EventRecord) -> str:
    if record.user_id is None:
        raise RecordError(f"{record.kind} record has no user_id")
    return record.user_id


def _object(data: Event, name: str) -> Event:
    return required_object(data, name, RecordError, "event field")


def _text(data: Event, name: str) -> str:
    return required_text(data, name, RecordError, "event field")


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_json(value: Any) -> str | None:
    return None if value is None else jsonb_text(value)


def _message(record: EventRecord) -> Rows:
    user_id = _require_user(record)
    message = _object(record.event, "message")
    mid = _text(message, "mid")
    if message.get("is_deleted"):
        return Rows(deletes=(DeleteRow(mid, record.page_id, user_id, event_ms(record)),))
    echo = bool(message.get("is_echo"))
    reply_to = message.get("reply_to")
    story = story_of(message)
    row = MessageRow(
        mid=mid,
        page_id=record.page_id,
        user_id=user_id,
        direction="outbound" if echo else "inbound",
        sender_id=_text(_object(record.event, "sender"), "id"),
        created_ms=event_ms(record),
        text=_optional_str(message.get("text")),
        attachments=_optional_json(message.get("attachments")),
        reply_to_mid=_optional_str(reply_to.get("mid")) if isinstance(reply_to, dict) else None,
        quick_reply=_optional_json(message.get("quick_reply")),
        app_id=_optional_str(message.get("app_id")) if echo else None,
        metadata=_optional_str(message.get("metadata")) if echo else None,
        source="webhook",
        raw=jsonb_text(record.event),
        is_standby=record.event.get("standby") is True,
        story=None if story is None else jsonb_text(story),
        time_unknown=time_unknown(record),
    )
    return Rows(messages=(row,))


def story_of(message: Event) -> dict[str, Any] | None:
    """An Instagram story the message answers (`reply_to.story`) or mentions (a `story_mention`
    attachment): {"type": "reply"|"mention", "url", "id"} with what Meta gave; None for other messages."""
    reply_to = message.get("reply_to")
    story = reply_to.get("story") if isinstance(reply_to, dict) else None
    if isinstance(story, dict):
        return {"type": "reply", **_story_fields(story)}
    attachments = message.get("attachments")
    for item in attachments if isinstance(attachments, list) else []:
        if isinstance(item, dict) and item.get("type") == "story_mention":
            payload = item.get("payload")
            return {"type": "mention", **_story_fields(payload if isinstance(payload, dict) else {})}
    return None


def _story_fields(story: Event) -> dict[str, str]:
    return {name: str(story[name]) for name in ("url", "id") if story.get(name) is not None}


def _delivery(record: EventRecord) -> Rows:
    watermark = integer_or_none(_object(record.event, "delivery").get("watermark"))
    if watermark is None:
        return Rows()
    return Rows(watermarks=(WatermarkRow(record.page_id, _require_user(record), delivered_ms=watermark),))


def _read(record: EventRecord) -> Rows:
    user_id = _require_user(record)
    read = _object(record.event, "read")
    rows: list[Rows] = []
    watermark = integer_or_none(read.get("watermark"))
    if watermark is not None:
        rows.append(Rows(watermarks=(WatermarkRow(record.page_id, user_id, read_ms=watermark),)))
    if isinstance(read.get("mid"), str):
        reader = _text(_object(record.event, "sender"), "id")
        rows.append(Rows(reads=(ReadRow(read["mid"], reader, record.page_id, user_id, event_ms(record)),)))
    if not rows:
        raise RecordError("read event has neither watermark nor mid")
    return Rows(**{k: sum((getattr(r, k) for r in rows), ()) for k in Rows.__slots__})


def _reaction(record: EventRecord) -> Rows:
    reaction = _object(record.event, "reaction")
    reactor = _text(_object(record.event, "sender"), "id")
    unreact = reaction.get("action") == "unreact"
    row = ReactionRow(
        page_id=record.page_id,
        mid=_text(reaction, "mid"),
        user_id=reactor,
        reaction=None if unreact else _optional_str(reaction.get("reaction")),
        emoji=None if unreact else _optional_str(reaction.get("emoji")),
        reacted_ms=event_ms(record),
    )
    return Rows(reactions=(row,))


def _edit(record: EventRecord) -> Rows:
    edit = _object(record.event, "message_edit")
    num_edit = integer_or_none(edit.get("num_edit"))
    if num_edit is None:
        raise RecordError("message_edit has no integer num_edit")
    row = EditRow(_text(edit, "mid"), record.page_id, _require_user(record), num_edit,
                  _optional_str(edit.get("text")), event_ms(record))
    return Rows(edits=(row,))


def _conversation_event(record: EventRecord) -> Rows:
    """Kept once: the key hashes the event itself, so a redelivery in any body maps to the same row."""
    digest = hashlib.sha256(canonical_json(record.event).encode()).hexdigest()[:40]
    kind = _kind(record)
    unknown = time_unknown(record)
    referral = _referral(record.event)
    row = EventRow(f"{kind}:{digest}", record.page_id, record.user_id, kind, None if unknown else event_ms(record),
                   jsonb_text(record.event), _optional_str(referral.get("source")),
                   _optional_str(referral.get("ref")), unknown)
    return Rows(events=(row,))


def _referral(event: Event) -> Event:
    """The referral of a referral event, or the one a postback (a Get Started from an ad) carries."""
    for holder in (event, event.get("postback")):
        found = holder.get("referral") if isinstance(holder, dict) else None
        if isinstance(found, dict):
            return found
    return {}


# Handovers that move control of a thread, and where the new owner is named. A request asks for
# control and moves nothing; `take_thread_control` names the new owner only in newer API versions.
_OWNER_OF = {"pass_thread_control": "new_owner_app_id", "take_thread_control": "new_owner_app_id"}


def _handover(record: EventRecord) -> Rows:
    """Stored as a conversation event; a pass or take also sets the thread's owner, the newest by
    Meta's time winning (consumers/batch.py, upsert_conversations.sql), so arrival order cannot matter."""
    rows = _conversation_event(record)
    moved = next((k for k in _OWNER_OF if isinstance(record.event.get(k), dict)), None)
    if moved is None or record.user_id is None or time_unknown(record):
        return rows
    owner = _optional_str(record.event[moved].get(_OWNER_OF[moved]))
    return Rows(events=rows.events, handovers=(HandoverRow(record.page_id, record.user_id, owner, event_ms(record)),))


_WEBHOOK_MAPPERS = {
    "message": _message,
    "delivery": _delivery,
    "read": _read,
    "reaction": _reaction,
    "message_edit": _edit,
    "handover": _handover,
}


def parse_graph_time(value: Any) -> int:
    """Graph times (`2026-11-29T10:00:00+0000`) in epoch ms."""
    try:
        return graph_time_ms(value)
    except ValueError as exc:
        raise RecordError(str(exc)) from None


def _snapshot(record: EventRecord) -> Rows:
    user_id = _require_user(record)
    run_id = _run_id(record.run_id)
    conversation = _object(record.event, "conversation")
    messages = record.event.get("messages", [])
    if not isinstance(messages, list):
        raise RecordError("graph record messages must be a list")
    updated_ms = record.timestamp if record.timestamp is not None else parse_graph_time(
        conversation.get("updated_time"))
    snapshot = SnapshotRow(
        page_id=record.page_id,
        user_id=user_id,
        platform=record.platform,
        graph_id=_text(conversation, "id"),
        updated_ms=updated_ms,
        message_count=integer_or_none(conversation.get("message_count")),
        unread_count=integer_or_none(conversation.get("unread_count")),
        snippet=_optional_str(conversation.get("snippet")),
        participants=_optional_json(conversation.get("participants")),
        can_reply=conversation.get("can_reply") if isinstance(conversation.get("can_reply"), bool) else None,
        link=_optional_str(conversation.get("link")),
        folder=_optional_str(record.event.get("folder")),
        run_id=run_id,
    )
    rows = tuple(_graph_message(record, user_id, run_id, m) for m in messages)
    contacts = contact_of(record.page_id, user_id, record.platform, conversation.get("participants"))
    return Rows(snapshots=(snapshot,), messages=rows, spans=graph_span(rows), contacts=contacts)


def contact_of(page_id: str, user_id: str, platform: str, participants: Any) -> tuple[ContactRow, ...]:
    """The conversation's person among a reading's participants (`{"data": [{"id", "name" | "username"}]}`)."""
    data = participants.get("data") if isinstance(participants, dict) else None
    person = next((p for p in data if isinstance(p, dict) and str(p.get("id")) == user_id), None) \
        if isinstance(data, list) else None
    if person is None:
        return ()
    name, username = _optional_str(person.get("name")), _optional_str(person.get("username"))
    return () if name is None and username is None else (ContactRow(page_id, user_id, platform, name, username),)


def graph_span(messages: tuple[MessageRow, ...]) -> tuple[GraphSpanRow, ...]:
    """The span a reading's messages prove complete: strictly after the oldest one's second, strictly
    before the newest one's (a message of those seconds may lie just outside the window, or be newer
    than the reading). Empty when nothing lies between them."""
    if not messages:
        return ()
    times = [m.created_ms for m in messages]
    from_ms, to_ms = min(times) // 1000 * 1000 + 1000, max(times) // 1000 * 1000
    if from_ms >= to_ms:
        return ()
    first = messages[0]
    mids = canonical_json(sorted({m.mid for m in messages}))
    return (GraphSpanRow(first.page_id, first.user_id, from_ms, to_ms, mids, first.run_id or ""),)


def _run_id(value: str | None) -> str:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        raise RecordError("graph record run_id must be a UUID") from None


def _graph_message(record: EventRecord, user_id: str, run_id: str, message: Any) -> MessageRow:
    if not isinstance(message, dict):
        raise RecordError("graph message must be an object")
    sender_id = _text(_object(message, "from"), "id")
    text = _optional_str(message.get("message")) or None
    return MessageRow(
        mid=_text(message, "id"),
        page_id=record.page_id,
        user_id=user_id,
        direction="outbound" if sender_id == record.page_id else "inbound",
        sender_id=sender_id,
        created_ms=parse_graph_time(message.get("created_time")),
        text=text,
        attachments=_optional_json(_graph_attachments(message)),
        reply_to_mid=None,
        quick_reply=None,
        app_id=None,
        metadata=None,
        source="graph",
        raw=jsonb_text(message),
        run_id=run_id,
        graph_text=text,
        graph_observed_ms=_read_at(record),
    )


def _read_at(record: EventRecord) -> int | None:
    """When Meta read the snapshot (its answer's `Date`, Meta's clock); None: too old a reconciler to say."""
    value = record.event.get("read_at")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _graph_attachments(message: Event) -> list[Any] | None:
    """Graph spreads what a webhook calls attachments over `attachments`, `sticker` and `shares`."""
    found: list[Any] = []
    for name in ("attachments", "shares"):
        data = message.get(name, {}).get("data") if isinstance(message.get(name), dict) else None
        found.extend(data if isinstance(data, list) else [])
    if isinstance(message.get("sticker"), str):
        found.append({"type": "sticker", "payload": {"url": message["sticker"]}})
    return found or None
