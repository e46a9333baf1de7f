"""What each kind of failed write means for the batch (consumers.failures), decided without a database."""

from __future__ import annotations

import asyncpg
import pytest

from consumers.failures import WriterDefect, describe, sqlstate, sqlstate_verdict, verdict


@pytest.mark.parametrize(("state", "expected"), [
    ("22003", "refuse"),  # numeric value out of range
    ("22008", "refuse"),  # datetime field overflow
    ("22021", "refuse"),  # invalid byte sequence (a NUL in text)
    ("22P05", "refuse"),  # untranslatable character (a NUL in jsonb)
    ("23502", "refuse"),  # not null violation
    ("23505", "refuse"),  # unique violation the upserts did not absorb
    ("54000", "refuse"),  # index row too large
    ("08006", "retry"),   # connection failure
    ("53300", "retry"),   # too many connections
    ("57P01", "retry"),   # admin shutdown
    ("57P03", "retry"),   # cannot connect now (starting up)
    ("57014", "retry"),   # query canceled (statement timeout)
    ("40P01", "retry"),   # deadlock detected
    ("40001", "retry"),   # serialization failure
    ("55P03", "retry"),   # lock not available (lock_timeout)
    ("XX000", "retry"),   # internal error
    ("42703", "stop"),    # undefined column
    ("42P01", "stop"),    # undefined table: a migration not applied
    ("42601", "stop"),    # syntax error
    ("42501", "stop"),    # insufficient privilege
    ("28P01", "stop"),    # wrong password
    ("3D000", "stop"),    # no such database
])
def test_sqlstate_verdicts(state: str, expected: str) -> None:
    assert sqlstate_verdict(state) == expected


def test_exceptions_by_kind() -> None:
    assert verdict(asyncpg.exceptions.NumericValueOutOfRangeError("out of range")) == "refuse"
    assert verdict(asyncpg.exceptions.UndefinedColumnError("no column")) == "stop"
    assert verdict(asyncpg.exceptions.AdminShutdownError("shutting down")) == "retry"
    assert verdict(asyncpg.exceptions._base.DataError("invalid input for query argument $4")) == "refuse"
    assert verdict(asyncpg.InterfaceError("connection is closed")) == "retry"
    assert verdict(ConnectionRefusedError(111, "refused")) == "retry"
    assert verdict(TimeoutError()) == "retry"
    assert verdict(WriterDefect("consumers/sql/upsert_messages.sql is missing")) == "stop"


def test_sqlstate_and_description() -> None:
    assert sqlstate(asyncpg.exceptions.ProgramLimitExceededError("index row size")) == "54000"
    assert sqlstate(asyncpg.exceptions._base.DataError("bad argument")) == "22000"
    assert describe(ValueError("first line\nsecond line")) == "ValueError: first line"
