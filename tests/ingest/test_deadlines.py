"""Body-read deadlines: an overdue read becomes 408, any other cancellation stays a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from ingest.body import BodyRejected, read_body
from ingest.deadlines import ReadDeadlines

HEADERS = {b"content-type": b"application/json", b"content-length": b"2"}


async def never() -> dict[str, object]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def whole_body() -> dict[str, object]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


async def test_a_read_past_its_deadline_is_refused_with_408_and_the_task_lives_on() -> None:
    deadlines = ReadDeadlines(0.2)
    try:
        with pytest.raises(BodyRejected) as refused:
            await read_body(never, HEADERS, limit=100, deadlines=deadlines)
        assert (refused.value.status, refused.value.reason) == (408, "read_timeout")
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # the cancellation was withdrawn
        await asyncio.sleep(0)  # and is not delivered later
        assert await read_body(whole_body, HEADERS, limit=100, deadlines=deadlines) == b"{}"
    finally:
        await deadlines.close()


async def test_a_cancellation_from_elsewhere_is_not_a_timeout() -> None:
    deadlines = ReadDeadlines(30)
    reading = asyncio.create_task(read_body(never, HEADERS, limit=100, deadlines=deadlines))
    await asyncio.sleep(0.05)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    await deadlines.close()


async def test_many_reads_finish_without_waiting_for_the_sweep() -> None:
    deadlines = ReadDeadlines(10)
    bodies = await asyncio.gather(*(read_body(whole_body, HEADERS, limit=100, deadlines=deadlines)
                                    for _ in range(50)))
    assert bodies == [b"{}"] * 50
    await deadlines.close()
