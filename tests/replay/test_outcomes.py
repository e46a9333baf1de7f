"""What one archived record yields in a replay: raw bodies verified and parsed again, dead letters decoded again."""

from __future__ import annotations

import hashlib

from ingest.signature import sign
from kernel.records import encode, key_bytes
from emulator import records as make
from replay.dlq import from_dead_letter
from replay.raw import from_raw
from replay.window import Selection
from tests.ingest.meta import OLD_SECRET, SECRET, meta_bytes

AT = 1_796_292_000_000


def body_for(*pages: str) -> bytes:
    entries = [{"id": page, "time": AT, "messaging": [
        {"sender": {"id": f"u-{page}"}, "recipient": {"id": page}, "timestamp": AT,
         "message": {"mid": f"m-{page}", "text": "hello"}}]} for page in pages]
    return meta_bytes({"object": "page", "entry": entries})


def headers(body: bytes, secret: bytes = SECRET, received_at: int = AT) -> dict[str, bytes]:
    return {"signature": sign(body, secret).encode(), "received_at": str(received_at).encode(),
            "body_sha256": hashlib.sha256(body).hexdigest().encode()}


def test_raw_body_becomes_todays_records_with_the_original_arrival() -> None:
    body = body_for("p1")
    outcome = from_raw(body, headers(body), AT + 5_000, [SECRET], Selection("raw"))
    [record] = outcome.events
    assert (record.page_id, record.user_id, record.received_at, record.body_sha256, record.index) == (
        "p1", "u-p1", AT, hashlib.sha256(body).hexdigest(), 0)
    assert outcome.skipped is None and outcome.matched == 1


def test_only_the_selected_pages_of_a_body() -> None:
    body = body_for("p1", "p2")
    outcome = from_raw(body, headers(body), AT, [SECRET], Selection("raw", pages=frozenset({"p2"})))
    assert [r.page_id for r in outcome.events] == ["p2"]
    assert from_raw(body, headers(body), AT, [SECRET], Selection("raw", pages=frozenset({"p9"}))).matched == 0


def test_a_body_no_current_secret_verifies_is_skipped() -> None:
    body = body_for("p1")
    outcome = from_raw(body, headers(body, OLD_SECRET), AT, [SECRET], Selection("raw"))
    assert (outcome.events, outcome.skipped) == ((), "signature")
    unsigned = {k: v for k, v in headers(body).items() if k != "signature"}
    assert from_raw(body, unsigned, AT, [SECRET], Selection("raw")).skipped == "signature"
    assert from_raw(body, headers(body, OLD_SECRET), AT, [SECRET, OLD_SECRET], Selection("raw")).matched == 1


def test_time_is_the_arrival_header_then_the_record_timestamp() -> None:
    body = body_for("p1")
    window = Selection("raw", since_ms=AT, until_ms=AT + 1000)
    assert from_raw(body, headers(body, received_at=AT - 1), AT + 10, [SECRET], window).matched == 0
    assert from_raw(body, headers(body, received_at=AT + 999), AT - 10, [SECRET], window).matched == 1
    no_header = {k: v for k, v in headers(body).items() if k != "received_at"}
    assert from_raw(body, no_header, AT + 500, [SECRET], window).matched == 1
    assert from_raw(body, headers(body, OLD_SECRET, received_at=AT - 1), AT, [SECRET], window).skipped is None


def test_a_body_that_is_no_webhook_is_skipped_with_why() -> None:
    body = b'{"not": "a webhook"}'
    assert from_raw(body, headers(body), AT, [SECRET], Selection("raw")).skipped == "webhook_not_webhook"


def test_a_dead_letter_that_decodes_now_goes_back_as_it_was() -> None:
    record = make.message("p1", "u1", "m1", AT, "hi")
    outcome = from_dead_letter(key_bytes(record), encode(record), AT, Selection("dlq"))
    assert outcome.resend is not None and (outcome.resend.key, outcome.resend.value) == (key_bytes(record),
                                                                                        encode(record))
    assert from_dead_letter(key_bytes(record), encode(record), AT, Selection("dlq", pages=frozenset({"p2"}))
                            ).matched == 0
    assert from_dead_letter(key_bytes(record), encode(record), AT, Selection("dlq", until_ms=AT)).matched == 0


def test_a_dead_letter_that_still_fails_is_skipped_with_its_error() -> None:
    outcome = from_dead_letter(b"k", b"not json", AT, Selection("dlq"))
    assert outcome.resend is None and outcome.skipped == "value is not JSON: JSONDecodeError"
    # its page cannot be known, so it is counted only when every page is replayed
    assert from_dead_letter(b"k", b"not json", AT, Selection("dlq", pages=frozenset({"p1"}))).skipped is None
    unmappable = make.webhook("message", "p1", "u1", AT, {"sender": {"id": "u1"}, "message": {"text": "no mid"}})
    assert from_dead_letter(None, encode(unmappable), AT, Selection("dlq")).skipped is not None
