"""A raw-archive record in a replay (pure): verify, parse with today's parser, keep the selected pages.

The archive is not a way in: a body that none of today's app secrets verifies is skipped (`signature`),
never produced, whoever wrote it to the topic. Its time is the edge's `received_at` header (the
record's timestamp when the header is missing); its records are exactly what the edge would make of
it today, with the original `received_at` and `body_sha256`, so the writer's rows are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from ingest.parse import WebhookRejected, parse_webhook
from ingest.signature import Secrets, check_signature
from replay.outcome import OUTSIDE, Outcome
from replay.window import Selection


def received_at(headers: Mapping[str, bytes], timestamp_ms: int) -> int:
    value = headers.get("received_at", b"")
    return int(value) if value.isdigit() else timestamp_ms


def from_raw(body: bytes | None, headers: Mapping[str, bytes], timestamp_ms: int, secrets: Secrets,
             selection: Selection) -> Outcome:
    """The events a raw record yields for `selection`, or the reason it is skipped."""
    arrived = received_at(headers, timestamp_ms)
    if not selection.wants_time(arrived):
        return OUTSIDE
    if body is None:
        return Outcome(skipped="no_body")
    signature = headers.get("signature", b"").decode("ascii", "replace")
    if check_signature(body, signature, secrets) != "ok":
        return Outcome(skipped="signature")
    try:
        records = parse_webhook(body, received_at=arrived, body_sha256=hashlib.sha256(body).hexdigest())
    except WebhookRejected as refused:
        return Outcome(skipped=f"webhook_{refused.reason}")
    return Outcome(events=[r for r in records if selection.wants_page(r.page_id)])
