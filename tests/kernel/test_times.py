"""Meta's times, one reading everywhere (kernel.times)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kernel.times import epoch_ms, graph_time, graph_time_ms


@pytest.mark.parametrize(("value", "expected"), [
    (1732870000000, 1732870000000),      # milliseconds, as webhooks send
    (1732870000, 1732870000000),         # seconds (Dashboard test payloads)
    ("1732870000", 1732870000000),       # string seconds
    ("1732870000123", 1732870000123),    # string milliseconds
    (1732870000.5, 1732870000000),       # float seconds
    (-5, None), (True, None), ("soon", None), (None, None), (float("nan"), None),
    ("2024-11-29T10:00:00Z", None),      # ISO text is not an epoch time
])
def test_epoch_ms(value: object, expected: int | None) -> None:
    assert epoch_ms(value) == expected


def test_graph_times_with_and_without_a_colon_in_the_offset() -> None:
    moment = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert graph_time("2026-11-29T10:00:00+0000") == graph_time("2026-11-29T10:00:00+00:00") == moment
    assert graph_time_ms("2026-11-29T10:00:00Z") == int(moment.timestamp() * 1000)


@pytest.mark.parametrize("value", ["yesterday", "2026-11-29T10:00:00", 1732870000, None])
def test_graph_time_refuses_what_is_not_iso_with_an_offset(value: object) -> None:
    with pytest.raises(ValueError):
        graph_time(value)
