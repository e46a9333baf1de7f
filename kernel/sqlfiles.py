"""SQL lives in `.sql` files named for what they do, in a `sql/` folder beside the module that runs
them (`consumers/sql/upsert_messages.sql`, `reconciler/sql/lease_pages.sql`); this reads them, once.

A file that is not there is a broken installation, never a database problem: `StatementMissing`
names it, and the writer turns it into a stop rather than a retry.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


class StatementMissing(RuntimeError):
    """A statement's `.sql` file is not installed."""


@cache
def statement(package: str, name: str) -> str:
    """The text of `<package>/sql/<name>.sql`."""
    path = resources.files(package) / "sql" / f"{name}.sql"
    try:
        return path.read_text()
    except FileNotFoundError:
        raise StatementMissing(f"the SQL file {path} is missing (a broken installation)") from None
