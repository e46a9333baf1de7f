"""Graph conversations -> graph records, and the listing's request/response shapes (pure).

One listed conversation becomes one `conversation_snapshot` record keyed by its thread key
(`page_id:user_id`), so it shares a partition, and an order, with the webhook events of the same
conversation. `user_id` is the participant that is not the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kernel.jsonvalues import object_or_empty
from kernel.records import EventRecord, Platform
from kernel.times import graph_time

MESSAGE_FIELDS = "id,created_time,from,to,message,attachments,sticker,shares"
CONVERSATION_FIELDS = (
    "id,updated_time,message_count,unread_count,snippet,participants,can_reply,link,"
    f"messages.limit(20){{{MESSAGE_FIELDS}}}"
)
# The folders of a page inbox Meta lists separately; a full sync walks every one, inbox first.
FULL_SYNC_FOLDERS = ("inbox", "other", "page_done", "pending", "spam")


class SnapshotError(ValueError):
    """Meta answered a shape we cannot read (no id, no updated_time): the run fails, permanently."""


def listing_params(platform: Platform, folder: str, limit: int, after: str | None) -> dict[str, str]:
    params = {"platform": platform, "fields": CONVERSATION_FIELDS, "limit": str(limit), "folder": folder}
    if after:
        params["after"] = after
    return params


@dataclass(frozen=True, slots=True)
class ListingPage:
    conversations: Sequence[Mapping[str, Any]]
    after: str | None  # the cursor of the next page, None at the end (cursors are never stored)


def read_listing(body: Any) -> ListingPage:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise SnapshotError("conversations listing has no data array")
    paging = object_or_empty(body.get("paging"))
    after = object_or_empty(paging.get("cursors")).get("after") if paging.get("next") else None
    items = [c for c in body["data"] if isinstance(c, Mapping)]
    return ListingPage(items, after if isinstance(after, str) and after else None)




def parse_time(value: Any) -> datetime:
    """Meta's `2024-05-01T12:00:00+0000` (or ISO with a colon) as an aware datetime."""
    if value is None:
        raise SnapshotError("conversation has no updated_time")
    try:
        return graph_time(value)
    except ValueError as exc:
        raise SnapshotError(str(exc)) from None


def cutoff(last_synced_at: datetime | None, overlap_s: float) -> datetime | None:
    """Incremental syncs stop at conversations older than this; None reads everything."""
    return None if last_synced_at is None else last_synced_at - timedelta(seconds=overlap_s)


def counterpart(conversation: Mapping[str, Any], page_id: str) -> str | None:
    """The participant that is not the page (the customer)."""
    participants = conversation.get("participants")
    data = participants.get("data") if isinstance(participants, Mapping) else None
    for person in data if isinstance(data, list) else []:
        pid = person.get("id") if isinstance(person, Mapping) else None
        if isinstance(pid, str) and pid and pid != page_id:
            return pid
    return None


def messages_of(conversation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    block = conversation.get("messages")
    data = block.get("data") if isinstance(block, Mapping) else None
    return [m for m in data if isinstance(m, Mapping)] if isinstance(data, list) else []


def snapshot_record(
    conversation: Mapping[str, Any], *, page_id: str, platform: Platform, folder: str, run_id: str, now_ms: int,
    read_at_ms: int | None = None,
) -> EventRecord:
    """The graph record of one listed conversation (DESIGN §1, kernel/records.py)."""
    if not isinstance(conversation.get("id"), str):
        raise SnapshotError("conversation has no id")
    updated = parse_time(conversation.get("updated_time"))
    fields = {k: v for k, v in conversation.items() if k != "messages"}
    return EventRecord(
        source="graph",
        kind="conversation_snapshot",
        platform=platform,
        page_id=page_id,
        user_id=counterpart(conversation, page_id),
        timestamp=int(updated.timestamp() * 1000),
        received_at=now_ms,
        body_sha256=None,
        index=None,
        run_id=run_id,
        event={"conversation": fields, "messages": messages_of(conversation), "folder": folder,
               **({} if read_at_ms is None else {"read_at": read_at_ms})},
    )
