"""Apply the SQL files of `migrations/` in order, once each, safely from several processes at once.

Why not a library: the well-kept runners (alembic, yoyo) drive synchronous drivers and bring an ORM
or their own DSL; ours is plain SQL over asyncpg, and this is the whole runner: a session advisory
lock serialises concurrent runs, `schema_migrations` records what ran (with a checksum, so an edited
applied file is refused), and each file runs in its own transaction. Then `migrations/sql/roles.sql`
creates the NOLOGIN roles of DESIGN §5 and sets their privileges, on every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

import migrations
from kernel.sqlfiles import statement
from kernel.startup import connect

log = structlog.get_logger("convsync.migrate")

LOCK_KEY = 0x636F6E7673796E63  # "convsync"



def sql(name: str) -> str:
    """The runner's own statements, in `migrations/sql/` (apart from the migrations themselves)."""
    return statement("migrations", name)


class MigrationError(RuntimeError):
    """An applied migration file changed on disk: refuse to go on rather than guess."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str  # the file name without .sql, e.g. "0001_initial"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    files = resources.files("migrations")
    return [Migration(version, (files / f"{version}.sql").read_text()) for version in migrations.versions()]


def pending(all_migrations: list[Migration], applied: dict[str, str]) -> list[Migration]:
    """The migrations still to run; raise MigrationError if an applied one was edited."""
    for m in all_migrations:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationError(f"migration {m.version} changed after it was applied")
    return [m for m in all_migrations if m.version not in applied]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply every pending migration; return the versions applied by this call."""
    await conn.execute(sql("lock"), LOCK_KEY)
    try:
        await conn.execute(sql("ledger"))
        rows = await conn.fetch(sql("applied"))
        todo = pending(available(), {r["version"]: r["checksum"] for r in rows})
        for m in todo:
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(sql("record"), m.version, m.checksum)
            log.info("migration_applied", version=m.version)
        async with conn.transaction():
            await conn.execute(sql("roles"))  # every time: privileges follow this file, not history
        return [m.version for m in todo]
    finally:
        await conn.execute(sql("unlock"), LOCK_KEY)


async def migrate_url(url: str) -> list[str]:
    """Migrate the database at `url`; one that cannot be reached is a StartupError (kernel.startup)."""
    conn = await connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
