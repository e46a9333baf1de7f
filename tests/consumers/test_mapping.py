"""Every fixture record decodes and maps to exactly the rows stored beside it; bad content is poison."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from consumers.mapping import map_record, parse_graph_time
from consumers.rows import Rows
from kernel.records import EventRecord, RecordError
from tests.consumers.support import fixture_paths, fixture_record, load_fixture


def as_json(rows: Rows) -> dict[str, Any]:
    return {k: [dataclasses.asdict(r) for r in getattr(rows, k)] for k in rows.__slots__ if getattr(rows, k)}


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_fixture_maps_to_its_rows(path: Path) -> None:
    assert as_json(map_record(fixture_record(path))) == load_fixture(path)["rows"]


def test_fixtures_cover_every_kind() -> None:
    kinds = {fixture_record(p).kind for p in fixture_paths()}
    assert kinds == {"message", "delivery", "read", "reaction", "message_edit", "postback", "referral", "optin",
                     "account_linking", "handover", "policy_enforcement", "unknown", "conversation_snapshot"}


def _record(**changes: Any) -> EventRecord:
    return dataclasses.replace(fixture_record(Path(__file__).parent.parent / "fixtures" / "records"
                                              / "message_text.json"), **changes)


@pytest.mark.parametrize("event", [
    {"sender": {"id": "2"}, "message": {"text": "no mid"}},
    {"sender": {"id": "2"}, "message": "not an object"},
    {"message": {"mid": "m_1", "text": "no sender"}},
])
def test_unusable_message_is_poison(event: dict[str, Any]) -> None:
    with pytest.raises(RecordError):
        map_record(_record(event=event))


def test_message_without_user_is_poison() -> None:
    with pytest.raises(RecordError):
        map_record(_record(user_id=None))


def test_graph_record_needs_a_uuid_run_id() -> None:
    graph = fixture_record(Path(__file__).parent.parent / "fixtures" / "records" / "graph_snapshot_messenger.json")
    with pytest.raises(RecordError, match="run_id"):
        map_record(dataclasses.replace(graph, run_id="run-7"))


def test_echo_is_outbound_with_app_id_as_text() -> None:
    echo = fixture_record(Path(__file__).parent.parent / "fixtures" / "records" / "message_echo.json")
    (row,) = map_record(echo).messages
    assert (row.direction, row.app_id, row.metadata, row.sender_id) == ("outbound", "1517776481860111", "agent:42",
                                                                        echo.page_id)


@pytest.mark.parametrize(("text", "ms"), [
    ("2026-11-29T10:00:00+0000", 1_795_946_400_000),
    ("2026-11-29T11:00:00+0100", 1_795_946_400_000),
    ("2026-11-29T10:00:00Z", 1_795_946_400_000),
])
def test_graph_times(text: str, ms: int) -> None:
    assert parse_graph_time(text) == ms


@pytest.mark.parametrize("text", ["yesterday", "2026-11-29T10:00:00", 1795946400])
def test_bad_graph_times_are_poison(text: Any) -> None:
    with pytest.raises(RecordError):
        parse_graph_time(text)
