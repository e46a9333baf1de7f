"""Pure checks of the migration runner's decisions."""

from __future__ import annotations

import pytest

from convsync.migrate import Migration, MigrationError, available, pending


def test_files_are_found_in_order() -> None:
    versions = [m.version for m in available()]
    assert versions and versions == sorted(versions)
    assert versions[0] == "0001_initial"


def test_pending_skips_applied() -> None:
    a, b = Migration("0001_a", "SELECT 1"), Migration("0002_b", "SELECT 2")
    assert pending([a, b], {"0001_a": a.checksum}) == [b]


def test_edited_migration_is_refused() -> None:
    m = Migration("0001_x", "SELECT 1")
    with pytest.raises(MigrationError, match="0001_x"):
        pending([m], {"0001_x": "not-the-checksum"})
