"""The parser: every fixture gives its expected records; arbitrary JSON only ever raises WebhookRejected."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parse import WebhookRejected, parse_webhook
from kernel.records import decode, encode
from tests.ingest.meta import expected_records, fixture_cases, meta_bytes

CASES = fixture_cases()


def _parse(document: Any) -> list[Any]:
    return parse_webhook(meta_bytes(document), received_at=1, body_sha256="ab" * 32)


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_fixture_gives_its_records(name: str, case: dict[str, Any]) -> None:
    records = _parse(case["body"])
    got = [{"kind": r.kind, "key": r.thread_key, "platform": r.platform, "timestamp": r.timestamp,
            "standby": r.event.get("standby") is True} for r in records]
    assert got == expected_records(case)
    assert [r.index for r in records] == list(range(len(records)))
    for record in records:
        assert decode(encode(record)) == record


def test_event_is_the_untouched_item() -> None:
    case = dict(CASES)["messenger_batched"]
    records = _parse(case["body"])
    entry = case["body"]["entry"][0]
    assert records[1].event == entry["messaging"][1]  # the echo, app_id still a number
    assert records[4].event == {**entry["standby"][0], "standby": True}
    assert records[0].source == "webhook" and records[0].run_id is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not_json"),
        (b"", "not_json"),
        (b"[1, 2]", "not_webhook"),
        (b'{"entry": []}', "not_webhook"),
        (b'{"object": "page"}', "not_webhook"),
        (b'{"object": "page", "entry": [{"messaging": []}]}', "entry_without_id"),
        (b'{"object": "page", "entry": [{"id": "1", "messaging": [1]}]}', "bad_messaging"),
        (b'{"object": "page", "entry": [{"id": "1", "standby": {}}]}', "bad_standby"),
        (b'{"object": "page", "entry": [{"id": "1", "time": NaN}]}', "not_json"),
        (b'{"object": "page", "entry": [{"id": "1", "messaging": [{"t": "\\ud800"}]}]}', "lone_surrogate"),
        (b'{"object": "page", "entry": [{"id": "1", "messaging": [{"t": "\\\\ud800\\udc00"}]}]}', "lone_surrogate"),
        (b"[" * 100_000, "not_json"),
        (b"\xff\xfe{", "not_json"),
    ],
)
def test_rejections(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_webhook(body, received_at=1, body_sha256="00")
    assert refused.value.reason == reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
ITEM_KEYS = st.sampled_from(["sender", "recipient", "timestamp", "message", "read", "standby", "policy-enforcement"])
ITEM = st.dictionaries(ITEM_KEYS | st.text(max_size=6), JSON | st.fixed_dictionaries({"id": JSON}), max_size=5)
ENTRY = st.dictionaries(st.sampled_from(["id", "time", "messaging", "standby", "changes"]),
                        JSON | st.lists(ITEM, max_size=3), max_size=5)
WEBHOOKISH = st.fixed_dictionaries(
    {"object": st.sampled_from(["page", "instagram", "user"]) | JSON, "entry": st.lists(ENTRY, max_size=3) | JSON})


@settings(max_examples=400, deadline=None)
@given(document=JSON | WEBHOOKISH)
def test_arbitrary_json_only_raises_webhook_rejected(document: Any) -> None:
    try:
        records = _parse(document)
    except WebhookRejected:
        return
    for record in records:
        assert decode(encode(record)) == record


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_webhook_rejected(body: bytes) -> None:
    try:
        parse_webhook(body, received_at=1, body_sha256="00")
    except WebhookRejected:
        pass


def test_non_ascii_utf8_bodies_are_read_too() -> None:
    body = json.dumps({"object": "page", "entry": [{"id": "1", "messaging": [
        {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 5, "message": {"text": "\u00e4"}}]}]},
        ensure_ascii=False).encode()
    (record,) = parse_webhook(body, received_at=1, body_sha256="00")
    assert record.event["message"]["text"] == "\u00e4" and record.timestamp == 5000
