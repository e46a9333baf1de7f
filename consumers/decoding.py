"""Decode and map each consumed record (pure): rows to write, or poison with its reason.

A record the database later refuses is turned into poison too (`Decoded.refused`), with its SQLSTATE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

from consumers.mapping import map_record
from consumers.rows import Rows
from kernel.records import RecordError, decode


@dataclass(frozen=True, slots=True)
class Decoded:
    record: ConsumerRecord
    rows: Rows | None  # None: poison
    error: str | None = None
    sqlstate: str | None = None  # set when the database refused the record's rows

    def refused(self, sqlstate: str, error: str) -> Decoded:
        return dataclasses.replace(self, rows=None, error=error, sqlstate=sqlstate)


def decode_one(record: ConsumerRecord) -> Decoded:
    """Decode and map; poison when unusable."""
    try:
        return Decoded(record, rows_of(record.value))
    except RecordError as exc:
        return Decoded(record, None, str(exc))


def rows_of(value: bytes | None) -> Rows:
    """The rows an events-topic value writes; RecordError when it is poison (a replay of the DLQ asks too).

    PostgreSQL text and jsonb cannot hold a NUL character (JSON `\\u0000`), so inside the event each one
    becomes U+FFFD: the message is kept and readable, and the raw archive keeps the exact bytes. Only
    records whose bytes hold that escape pay for the scan."""
    decoded = decode(value)
    if value is not None and b"\\u0000" in value:
        decoded = dataclasses.replace(decoded, event=without_nul(decoded.event))
    return map_record(decoded)


def without_nul(value: Any) -> Any:
    """`value` with every NUL character in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def decode_all(records: Sequence[ConsumerRecord]) -> list[Decoded]:
    return [decode_one(r) for r in records]
