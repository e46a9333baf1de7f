"""Merging one batch: each key once, and the merged row equals applying the rows one by one."""

from __future__ import annotations

import dataclasses

from consumers.batch import merge, merge_messages
from consumers.mapping import map_record
from consumers.rows import MessageRow, ReactionRow, Rows
from emulator import records as traffic

PAGE, USER = "1000000001", "2000000001"


def _message(source: str, **changes: object) -> MessageRow:
    row = MessageRow("m_1", PAGE, USER, "inbound", USER, 1000, "hi", None, None, None, None, None, "webhook", "{}")
    return dataclasses.replace(row, source=source, **changes)  # type: ignore[arg-type]


def test_webhook_copy_leads_and_graph_fills_gaps_in_either_order() -> None:
    webhook = _message("webhook", text=None, created_ms=1234, reply_to_mid="m_0")
    graph = _message("graph", text="hi", attachments='[{"type":"image"}]', created_ms=1000, run_id="r")
    for merged in (merge_messages(webhook, graph), merge_messages(graph, webhook)):
        assert (merged.source, merged.created_ms, merged.text, merged.attachments, merged.reply_to_mid,
                merged.run_id) == ("webhook", 1234, "hi", '[{"type":"image"}]', "m_0", "r")


def test_each_key_once_and_newest_facts_win() -> None:
    records = [
        traffic.message(PAGE, USER, "m_1", 1000, "hi"),
        traffic.message(PAGE, USER, "m_1", 1000, "hi"),
        traffic.webhook("read", PAGE, USER, 3000, {"read": {"watermark": 2900}}),
        traffic.webhook("read", PAGE, USER, 2000, {"read": {"watermark": 1900}}),
        traffic.webhook("reaction", PAGE, USER, 5000, {"reaction": {"mid": "m_1", "action": "unreact"}}),
        traffic.webhook("reaction", PAGE, USER, 4000, {"reaction": {"mid": "m_1", "action": "react",
                                                                    "reaction": "like", "emoji": "x"}}),
        traffic.webhook("message_edit", PAGE, USER, 6000, {"message_edit": {"mid": "m_1", "text": "b", "num_edit": 2}}),
        traffic.webhook("message_edit", PAGE, USER, 7000, {"message_edit": {"mid": "m_1", "text": "a", "num_edit": 1}}),
    ]
    batch = merge(map_record(r) for r in records)
    (conversation,) = batch.conversations
    assert (conversation.updated_ms, conversation.read_ms) == (7000, 2900)
    assert len(batch.messages) == 1
    assert batch.reactions == (ReactionRow(PAGE, "m_1", USER, None, None, 5000),)
    assert [(e.num_edit, e.text) for e in batch.edits] == [(2, "b")]


def test_newest_snapshot_wins_and_times_only_grow() -> None:
    run = traffic.new_run_id()
    newer = traffic.snapshot(PAGE, USER, run, 20_000, [("m_2", 19_000, "two", False)], 2)
    older = traffic.snapshot(PAGE, USER, run, 10_000, [("m_1", 9_000, "one", False)], 1)
    for order in ([newer, older], [older, newer]):
        (c,) = merge(map_record(r) for r in order).conversations
        assert c.snapshot is not None and (c.snapshot.updated_ms, c.snapshot.message_count) == (20_000, 2)
        assert c.updated_ms == 20_000


def test_output_is_sorted_by_key() -> None:
    rows = [Rows(messages=(_message("webhook", mid=mid),)) for mid in ("m_c", "m_a", "m_b")]
    assert [m.mid for m in merge(rows).messages] == ["m_a", "m_b", "m_c"]
