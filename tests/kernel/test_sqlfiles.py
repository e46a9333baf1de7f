"""Every statement the code names is a file that exists, and every SQL file is used (kernel.sqlfiles)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumers.store import COLUMNS, STATEMENTS
from kernel.sqlfiles import StatementMissing, statement

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "ingest", "consumers", "reconciler", "replay", "console", "emulator", "convsync", "migrations")
# statement("package", "name"), or a module's own helper: sql("name") (the writer's `_upsert(conn, "name"`
# and `_apply(conn, "name"` too), whose package is the one its `statement("package", name)` names, else the module's own
NAMED = re.compile(r'statement\(\s*"(\w+)",\s*"(\w+)"\s*\)|\b(?:sql|_upsert|_apply)\((?:conn,\s*)?"(\w+)"')
HELPER = re.compile(r'statement\(\s*"(\w+)",\s*name\s*\)')


def named_statements() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for module in (ROOT / package).rglob("*.py"):
            text = module.read_text()
            helper = HELPER.search(text)
            own = helper.group(1) if helper else package
            for m in NAMED.finditer(text):
                found.add((m.group(1), m.group(2)) if m.group(1) else (own, m.group(3)))
    return found | {("consumers", name) for name in COLUMNS}  # the writer's bulk statements, run by name


def sql_files() -> set[tuple[str, str]]:
    return {(package, path.stem) for package in PACKAGES for path in (ROOT / package / "sql").glob("*.sql")}


def test_every_named_statement_has_its_file() -> None:
    named = named_statements()
    assert ("consumers", "upsert_messages") in named and ("reconciler", "lease_pages") in named
    assert not named - sql_files(), f"named but missing: {sorted(named - sql_files())}"


def test_every_sql_file_is_named_somewhere() -> None:
    assert not sql_files() - named_statements(), f"unused: {sorted(sql_files() - named_statements())}"


def test_the_writer_loads_every_one_of_its_statements_at_start() -> None:
    writer = {name for package, name in named_statements() if package == "consumers"}
    assert set(STATEMENTS) == writer


def test_a_missing_file_names_itself() -> None:
    with pytest.raises(StatementMissing, match="no_such_statement.sql"):
        statement("reconciler", "no_such_statement")
