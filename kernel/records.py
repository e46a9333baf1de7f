"""The Kafka record contract: topic names, the event envelope, its version, encode and decode.

Every producer (the webhook edge, the reconciler) and the consumers import this module and nothing
else to agree on what travels through Kafka. Example records live in `tests/fixtures/records/`.

Topics
    convsync.events.v1  one record per event, key = thread key (`page_id:user_id`, or `page_id` when
                        the event has no user), value = JSON envelope below
    convsync.raw.v1     the exact webhook body bytes, headers `signature`, `received_at`, `body_sha256`;
                        no key: the bodies the edge ships together share one partition, chosen
                        afresh for each group (`ingest.coalesce`); timestamp = `received_at`
                        (CreateTime), so a replay seeks by arrival time
    convsync.dlq.v1     poison records, original value, headers naming topic/partition/offset/error

Envelope (JSON object, schema version `v` = 1)
    v            1
    source       "webhook" | "graph"
    kind         see `Kind`; for source "graph" always "conversation_snapshot"
    platform     "messenger" | "instagram"
    page_id      string
    user_id      string or null (the counterpart of the page; the recipient for echoes)
    timestamp    Meta's event time in epoch ms, or null
    received_at  when convsync received it, epoch ms
    body_sha256  hex hash of the webhook body the event came from (null for graph)
    index        position of the event in that body (null for graph)
    run_id       the sync run that produced a graph record (null for webhook)
    event        the untouched event JSON (webhook: one `messaging[]`/`standby[]` item plus
                 `"standby": true` when it came from standby; graph: {"conversation": {...},
                 "messages": [...]} exactly as the Graph API returned them, "folder", and
                 "read_at": the Graph answer's `Date` in epoch ms (Meta's clock), when known)

Errors: `RecordError` means the bytes are not a valid record of a version we know: dead-letter it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from kernel import jsoncodec
from kernel.jsonvalues import required_integer, required_object, required_text

SCHEMA_VERSION = 1
EVENTS_TOPIC = "convsync.events.v1"
RAW_TOPIC = "convsync.raw.v1"
DLQ_TOPIC = "convsync.dlq.v1"
ALL_TOPICS = (EVENTS_TOPIC, RAW_TOPIC, DLQ_TOPIC)


@dataclass(frozen=True, slots=True)
class Topics:
    """The three topic names, optionally under a prefix (CONVSYNC_TOPIC_PREFIX; tests isolate with it)."""

    events: str = EVENTS_TOPIC
    raw: str = RAW_TOPIC
    dlq: str = DLQ_TOPIC

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(prefix + EVENTS_TOPIC, prefix + RAW_TOPIC, prefix + DLQ_TOPIC)

Source = Literal["webhook", "graph"]
Platform = Literal["messenger", "instagram"]
Kind = Literal[
    "message",
    "delivery",
    "read",
    "reaction",
    "message_edit",
    "postback",
    "referral",
    "optin",
    "account_linking",
    "handover",
    "policy_enforcement",
    "unknown",
    "conversation_snapshot",
]
KINDS: frozenset[str] = frozenset(get_args(Kind))
SOURCES: frozenset[str] = frozenset(get_args(Source))
PLATFORMS: frozenset[str] = frozenset(get_args(Platform))
# A page id convsync accepts from operators (admin API, CLI, replays). Never "." or "..": ids go into Graph paths.
PAGE_ID = re.compile(r"[0-9A-Za-z_\-][0-9A-Za-z_.\-]{0,63}")


class RecordError(ValueError):
    """Not a valid record of a known version; the consumer dead-letters it."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    source: Source
    kind: Kind
    platform: Platform
    page_id: str
    user_id: str | None
    timestamp: int | None
    received_at: int
    body_sha256: str | None
    index: int | None
    run_id: str | None
    event: Mapping[str, Any]

    @property
    def thread_key(self) -> str:
        return thread_key(self.page_id, self.user_id)


def thread_key(page_id: str, user_id: str | None) -> str:
    """The Kafka key: all events of one conversation share it, and so a partition and an order."""
    return page_id if user_id is None else f"{page_id}:{user_id}"


def encode(record: EventRecord) -> bytes:
    return jsoncodec.dumps(
        {
            "v": SCHEMA_VERSION,
            "source": record.source,
            "kind": record.kind,
            "platform": record.platform,
            "page_id": record.page_id,
            "user_id": record.user_id,
            "timestamp": record.timestamp,
            "received_at": record.received_at,
            "body_sha256": record.body_sha256,
            "index": record.index,
            "run_id": record.run_id,
            "event": record.event,
        }
    )


def key_bytes(record: EventRecord) -> bytes:
    return record.thread_key.encode()


def decode(value: bytes | None) -> EventRecord:
    """Parse and validate one events-topic value; raise RecordError when it is not a valid record."""
    if value is None:
        raise RecordError("record has no value")
    try:
        data = jsoncodec.loads(value)
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"value is not JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise RecordError("value is not a JSON object")
    if data.get("v") != SCHEMA_VERSION:
        raise RecordError(f"unknown schema version {data.get('v')!r}")
    return EventRecord(
        source=cast(Source, _choice(data, "source", SOURCES)),
        kind=cast(Kind, _choice(data, "kind", KINDS)),
        platform=cast(Platform, _choice(data, "platform", PLATFORMS)),
        page_id=_text(data, "page_id"),
        user_id=_optional_text(data, "user_id"),
        timestamp=_optional_int(data, "timestamp"),
        received_at=_int(data, "received_at"),
        body_sha256=_optional_text(data, "body_sha256"),
        index=_optional_int(data, "index"),
        run_id=_optional_text(data, "run_id"),
        event=_object(data, "event"),
    )


def _choice(data: Mapping[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = data.get(name)
    if value not in allowed:
        raise RecordError(f"field {name!r} has unknown value {value!r}")
    return cast(str, value)


def _text(data: Mapping[str, Any], name: str) -> str:
    return required_text(data, name, RecordError)


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    return None if data.get(name) is None else _text(data, name)


def _int(data: Mapping[str, Any], name: str) -> int:
    return required_integer(data, name, RecordError)


def _optional_int(data: Mapping[str, Any], name: str) -> int | None:
    return None if data.get(name) is None else _int(data, name)


def _object(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return required_object(data, name, RecordError)
