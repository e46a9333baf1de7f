"""Split one verified webhook body into event records (pure: no I/O, no clock).

A body is `{"object": "page"|"instagram", "entry": [{"id": PAGE, "messaging"|"standby": [...]}]}`.
Every `messaging[]` and `standby[]` item becomes one `EventRecord` whose `event` is the item
untouched (plus `"standby": true` for standby items). The kind is the key present (DESIGN §2);
unknown kinds are kept as `unknown`. Other objects (feed changes and the like) are valid webhooks
that yield no events: the raw archive keeps them.

Dashboard test payloads put a messaging item under `changes[].value` with string seconds as the
timestamp; they are parsed the same way, and timestamps are normalised to epoch ms.

Errors: `WebhookRejected` — the body is not JSON or not a webhook object; answer 400, store nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kernel import jsoncodec
from kernel.times import epoch_ms
from kernel.records import EventRecord, Kind, Platform

PLATFORMS: Mapping[str, Platform] = {"page": "messenger", "instagram": "instagram"}

# The key present decides the kind; checked in this order (an item carries one of them).
KIND_KEYS: tuple[tuple[str, Kind], ...] = (
    ("message", "message"),
    ("message_edit", "message_edit"),
    ("reaction", "reaction"),
    ("delivery", "delivery"),
    ("read", "read"),
    ("postback", "postback"),
    ("referral", "referral"),
    ("optin", "optin"),
    ("account_linking", "account_linking"),
    ("pass_thread_control", "handover"),
    ("take_thread_control", "handover"),
    ("request_thread_control", "handover"),
    ("app_roles", "handover"),
    ("policy_enforcement", "policy_enforcement"),
    ("policy-enforcement", "policy_enforcement"),
)

class WebhookRejected(ValueError):
    """The body is not a webhook we can read: answer 400 and store nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_webhook(body: bytes, *, received_at: int, body_sha256: str) -> list[EventRecord]:
    """One record per messaging/standby item of every entry, in body order (`index`)."""
    document = _load(body)
    platform = PLATFORMS.get(document["object"])
    if platform is None:
        return []
    records: list[EventRecord] = []
    for page_id, entry_time, item in _items(document["entry"]):
        records.append(EventRecord(
            source="webhook", kind=classify(item), platform=platform, page_id=page_id,
            user_id=counterpart(item, page_id), timestamp=event_time(item, entry_time),
            received_at=received_at, body_sha256=body_sha256, index=len(records), run_id=None, event=item,
        ))
    return records


def classify(item: Mapping[str, Any]) -> Kind:
    for key, kind in KIND_KEYS:
        if key in item:
            return kind
    return "unknown"


def counterpart(item: Mapping[str, Any], page_id: str) -> str | None:
    """The user of the thread: the party that is not the page (the recipient of an echo)."""
    first, second = ("recipient", "sender") if _is_echo(item) else ("sender", "recipient")
    user = _id_of(item.get(first))
    if user is not None and user != page_id:
        return user
    user = _id_of(item.get(second))
    return user if user != page_id else None


def event_time(item: Mapping[str, Any], fallback: Any) -> int | None:
    """Meta's time in epoch ms; tolerates string and seconds (Dashboard test payloads)."""
    for value in (item.get("timestamp"), fallback):
        millis = epoch_ms(value)
        if millis is not None:
            return millis
    return None


def _load(body: bytes) -> dict[str, Any]:
    try:
        document = jsoncodec.loads_unicode(body)
    except jsoncodec.LoneSurrogate:
        raise WebhookRejected("lone_surrogate") from None  # records could not be encoded as UTF-8
    except (ValueError, RecursionError):
        raise WebhookRejected("not_json") from None
    if not isinstance(document, dict) or not isinstance(document.get("object"), str):
        raise WebhookRejected("not_webhook")
    if not isinstance(document.get("entry"), list):
        raise WebhookRejected("not_webhook")
    return document


def _items(entries: list[Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(page id, entry time, item) of every entry, messaging before standby before changes.
    Plain loops, and the absent lists skipped: this runs for every webhook the edge accepts."""
    items: list[tuple[str, Any, dict[str, Any]]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise WebhookRejected("not_webhook")
        page_id = _id_of(entry)
        if page_id is None:
            raise WebhookRejected("entry_without_id")
        time = entry.get("time")
        if "messaging" in entry:
            for item in _list(entry, "messaging"):
                items.append((page_id, time, item))
        if "standby" in entry:
            for item in _list(entry, "standby"):
                items.append((page_id, time, {**item, "standby": True}))
        if "changes" in entry:
            for change in _list(entry, "changes"):
                if _is_messaging_change(change):
                    items.append((page_id, time, change["value"]))
    return items


def _list(entry: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = entry[key]
    if items is None:
        return []
    if type(items) is not list:  # noqa: E721 - json gives exactly list; a subclass cannot come from it
        raise WebhookRejected(f"bad_{key}")
    for item in items:
        if type(item) is not dict:  # noqa: E721 - likewise
            raise WebhookRejected(f"bad_{key}")
    return items


def _is_messaging_change(change: Mapping[str, Any]) -> bool:
    field, value = change.get("field"), change.get("value")
    return isinstance(field, str) and field.startswith("messag") and isinstance(value, dict)


def _is_echo(item: Mapping[str, Any]) -> bool:
    message = item.get("message")
    return isinstance(message, dict) and message.get("is_echo") is True


def _id_of(party: Any) -> str | None:
    if not isinstance(party, dict):
        return None
    value = party.get("id")
    if type(value) is str:  # noqa: E721 - the usual case, first
        return value or None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    return text or None
