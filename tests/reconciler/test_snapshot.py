"""Graph conversations become graph records exactly as the record contract says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kernel.records import decode, encode, thread_key
from reconciler.snapshot import (
    CONVERSATION_FIELDS, SnapshotError, counterpart, cutoff, listing_params, parse_time, read_listing,
    snapshot_record,
)

CONVERSATION = {
    "id": "t_123",
    "updated_time": "2026-11-29T10:00:00+0000",
    "message_count": 2,
    "participants": {"data": [{"id": "PAGE", "name": "Shop"}, {"id": "U1", "name": "Ann"}]},
    "messages": {"data": [{"id": "m_2", "message": "hi"}, {"id": "m_1", "message": "yo"}]},
}


def test_record_envelope() -> None:
    record = snapshot_record(CONVERSATION, page_id="PAGE", platform="messenger", folder="inbox", run_id="r1",
                             now_ms=42)
    assert decode(encode(record)) == record
    assert (record.source, record.kind, record.user_id, record.run_id) == ("graph", "conversation_snapshot", "U1", "r1")
    assert record.thread_key == thread_key("PAGE", "U1")
    assert record.timestamp == int(datetime(2026, 11, 29, 10, tzinfo=UTC).timestamp() * 1000)
    assert "messages" not in record.event["conversation"]
    assert [m["id"] for m in record.event["messages"]] == ["m_2", "m_1"]
    assert record.event["folder"] == "inbox"


def test_counterpart_is_the_participant_that_is_not_the_page() -> None:
    assert counterpart({"participants": {"data": [{"id": "U9"}, {"id": "PAGE"}]}}, "PAGE") == "U9"
    assert counterpart({}, "PAGE") is None


def test_listing_shapes() -> None:
    body = {"data": [CONVERSATION], "paging": {"cursors": {"after": "c2"}, "next": "https://x"}}
    assert read_listing(body).after == "c2"
    assert read_listing({"data": [], "paging": {"cursors": {"after": "c2"}}}).after is None
    with pytest.raises(SnapshotError):
        read_listing({"error": {}})
    params = listing_params("instagram", "inbox", 100, "c2")
    assert params == {"platform": "instagram", "fields": CONVERSATION_FIELDS, "limit": "100", "folder": "inbox",
                      "after": "c2"}
    assert "messages.limit(20){id,created_time,from,to,message,attachments,sticker,shares}" in CONVERSATION_FIELDS


def test_times() -> None:
    assert parse_time("2026-11-29T10:00:00+0000") == parse_time("2026-11-29T10:00:00+00:00")
    with pytest.raises(SnapshotError):
        parse_time("yesterday")
    mark = datetime(2026, 1, 1, tzinfo=UTC)
    assert cutoff(mark, 900) == mark - timedelta(minutes=15)
    assert cutoff(None, 900) is None
