"""The record contract end to end: every example webhook body goes through every processor.

Raw body -> the edge's parser -> encode -> Kafka bytes -> decode -> the writer's row mapper -> the
store, applied twice: the second application must change nothing. A new fixture under
`tests/fixtures/webhooks/` is covered without another line here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import asyncpg
import pytest

from ingest.parse import parse_webhook
from kernel.records import decode, encode
from tests.consumers.support import apply, table_state

pytestmark = pytest.mark.integration
WEBHOOKS = sorted((Path(__file__).parents[1] / "fixtures" / "webhooks").glob("*.json"))


def _records_of(path: Path) -> list:  # type: ignore[type-arg]
    body = json.dumps(json.loads(path.read_text())["body"]).encode()
    parsed = parse_webhook(body, received_at=1_795_000_000_000, body_sha256=hashlib.sha256(body).hexdigest())
    return [decode(encode(r)) for r in parsed]


@pytest.mark.parametrize("path", WEBHOOKS, ids=lambda p: p.stem)
async def test_every_example_through_every_processor_twice(conn: asyncpg.Connection, path: Path) -> None:
    records = _records_of(path)
    assert len(records) == len(json.loads(path.read_text())["records"])
    await apply(conn, records)
    before = await table_state(conn)
    second = await apply(conn, records)
    assert (second.total_inserted, second.total_updated) == (0, 0)
    assert await table_state(conn) == before
