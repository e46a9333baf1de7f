"""Decoding a consumed record: good ones map to rows, poison carries its reason and its origin."""

from __future__ import annotations

import dataclasses

from aiokafka import ConsumerRecord

from consumers.deadletter import dlq_headers
from consumers.decoding import decode_one
from kernel.records import encode
from emulator import records as traffic


def consumed(value: bytes | None, offset: int = 7) -> ConsumerRecord:
    return ConsumerRecord(topic="convsync.events.v1", partition=3, offset=offset, timestamp=0, timestamp_type=0,
                          key=b"k", value=value, checksum=None, serialized_key_size=1,
                          serialized_value_size=len(value or b""), headers=())


def test_good_record_maps_to_rows() -> None:
    decoded = decode_one(consumed(encode(traffic.message("1", "2", "m_1", 1000, "hi"))))
    assert decoded.error is None and decoded.rows is not None and decoded.rows.messages[0].mid == "m_1"


def test_nul_character_becomes_a_replacement_character_and_the_message_is_kept() -> None:
    record = traffic.message("1", "2", "m_1", 1000, "nul \u0000 inside")
    decoded = decode_one(consumed(encode(record)))
    assert decoded.rows is not None and decoded.rows.messages[0].text == "nul \ufffd inside"
    assert "\\u0000" not in decoded.rows.messages[0].raw


def test_a_typed_backslash_u0000_is_text_not_a_nul() -> None:
    record = traffic.message("1", "2", "m_1", 1000, "literally \\u0000")
    decoded = decode_one(consumed(encode(record)))
    assert decoded.rows is not None and decoded.rows.messages[0].text == "literally \\u0000"


def test_refused_record_headers_carry_the_sqlstate() -> None:
    decoded = decode_one(consumed(encode(traffic.message("1", "2", "m_1", 1000, "x"))))
    headers = dict(dlq_headers(decoded.refused("54000", "ProgramLimitExceededError: index row size")))
    assert headers["sqlstate"] == b"54000" and headers["error"].startswith(b"ProgramLimitExceeded")
    assert "sqlstate" not in dict(dlq_headers(decode_one(consumed(None))))


def test_poison_headers_name_origin_and_error() -> None:
    bad = dataclasses.replace(traffic.message("1", "2", "m_1", 1000, "x"), event={"message": {"text": "no mid"}})
    decoded = decode_one(consumed(encode(bad), offset=42))
    assert decoded.rows is None
    headers = dict(dlq_headers(decoded))
    assert (headers["original_topic"], headers["original_partition"], headers["original_offset"]) == (
        b"convsync.events.v1", b"3", b"42")
    assert b"mid" in headers["error"]


def test_missing_value_is_poison() -> None:
    assert decode_one(consumed(None)).error == "record has no value"
