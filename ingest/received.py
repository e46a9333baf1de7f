"""The edge's request envelope: one verified webhook request as it arrived.

It is what the success path produces to Kafka (the raw archive's headers come from it), what the
spool keeps when Kafka does not answer, and what the drainer reads back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Received:
    """One verified webhook request: its exact bytes, signature header, arrival (epoch ms) and digest."""

    body: bytes
    signature: str
    received_at: int
    body_sha256: str
