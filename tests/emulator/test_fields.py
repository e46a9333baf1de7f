"""Field expansion parsing: nested selections and `.limit(n)`."""

from __future__ import annotations

import pytest

from emulator.fields import Field, FieldsError, parse_fields


def test_flat_fields() -> None:
    assert parse_fields("id,updated_time") == (Field("id"), Field("updated_time"))


def test_nested_selection_with_limit() -> None:
    parsed = parse_fields(
        "id,messages.limit(20){id,created_time,from,to,message,attachments,sticker,shares},participants"
    )
    messages = parsed[1]
    assert messages.name == "messages" and messages.limit == 20
    assert messages.sub is not None and [f.name for f in messages.sub] == [
        "id",
        "created_time",
        "from",
        "to",
        "message",
        "attachments",
        "sticker",
        "shares",
    ]
    assert parsed[2] == Field("participants")


def test_deeper_nesting_and_limit_without_selection() -> None:
    parsed = parse_fields("messages.limit(3){attachments.limit(1){id}},participants.limit(2)")
    assert parsed[0].sub == (Field("attachments", 1, (Field("id"),)),)
    assert parsed[1] == Field("participants", 2)


def test_spaces_are_ignored() -> None:
    assert parse_fields("id, messages.limit(2){ id }") == (Field("id"), Field("messages", 2, (Field("id"),)))


@pytest.mark.parametrize("text", ["", "id,", "messages{id", "messages.limit(x){id}", "messages.since(3)", "id}"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(FieldsError):
        parse_fields(text)
