"""Each writer statement takes its column arrays in the order the row types declare their fields."""

from __future__ import annotations

import re

import pytest

from consumers.store import COLUMNS, sql


def unnest_aliases(statement: str) -> tuple[str, ...]:
    """The column names of a statement's `unnest(...) AS r(a, b, ...)`."""
    match = re.search(r"\)\s+AS\s+r\(([^)]*)\)", statement)
    assert match, "the statement has no `unnest(...) AS r(...)`"
    return tuple(name.strip() for name in match.group(1).split(","))


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_statement_columns_follow_the_row_type(name: str) -> None:
    assert unnest_aliases(sql(name)) == COLUMNS[name]


def test_the_arrays_are_as_many_as_the_columns() -> None:
    for name, columns in COLUMNS.items():
        assert f"${len(columns)}::" in sql(name) and f"${len(columns) + 1}::" not in sql(name), name
