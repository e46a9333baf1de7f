"""What a failed write means, named by what happens next. Pure: an exception in, a verdict out.

    retry  (DatabaseUnavailable)  the database cannot take the batch now: connection refused or lost,
                                  server shutting down or starting, too many connections, a timeout,
                                  a deadlock or serialization failure, a lock not granted. Seek back,
                                  back off, try again, for as long as it takes.
    refuse (record refused)       the database will never take some record of the batch: class 22
                                  (data exception: a number out of range, text it cannot store),
                                  class 23 (a constraint the upserts do not absorb), class 54 (a
                                  program limit: an index row too large), or a value asyncpg cannot
                                  encode. Find the record(s), dead-letter them, write the rest.
    stop   (WriterDefect)         our own defect or the deployment's: a missing SQL file, an undefined
                                  table or column (a migration not applied), a syntax error, a missing
                                  privilege, a wrong password or database name. Retrying cannot help:
                                  the consumer exits 1 with a line that names it.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

Verdict = Literal["retry", "refuse", "stop"]

_REFUSE_CLASSES = frozenset({"22", "23", "54"})
# 0A feature not supported, 26/2D/34 invalid statement/transaction/cursor use, 3D/3F unknown
# database/schema, 28 authorization, 42 syntax error or access rule violation (undefined column, ...)
_STOP_CLASSES = frozenset({"0A", "26", "2D", "34", "3D", "3F", "28", "42"})


class DatabaseUnavailable(RuntimeError):
    """The batch was not written and can be later: retry it."""


class WriterDefect(RuntimeError):
    """A write that can never succeed for any record: stop the consumer (exit 1) and say why."""


def verdict(exc: BaseException) -> Verdict:
    """What a failed write's exception means for the batch."""
    if isinstance(exc, WriterDefect):
        return "stop"
    if isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError):
        return "refuse"  # asyncpg's own DataError: a parameter it cannot encode (an int beyond int4)
    if isinstance(exc, asyncpg.PostgresError):
        return sqlstate_verdict(sqlstate(exc))
    return "retry"  # InterfaceError, OSError, TimeoutError: the connection, not the data


def sqlstate_verdict(state: str) -> Verdict:
    if state[:2] in _REFUSE_CLASSES:
        return "refuse"
    if state[:2] in _STOP_CLASSES:
        return "stop"
    return "retry"  # 08 connection, 40 rollback, 53 resources, 55 lock, 57 operator intervention, 58, XX


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a database error; "22000" (data exception) for one asyncpg raised itself."""
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) and len(state) == 5 else "22000"


def describe(exc: BaseException) -> str:
    """One line for logs and DLQ headers: the error's class and message, never its parameters."""
    return f"{exc.__class__.__name__}: {exc}".splitlines()[0][:500]
