"""Settings: every `CONVSYNC_*` environment variable, read once at the entry point.

`load(env)` is pure: it takes a mapping (normally `os.environ`) and returns a frozen `Settings`, or
raises `SettingsError` whose message is one line naming the variable and what is wrong. Nothing below
an entry point reads the environment; values are passed down.

Secrets are `Secret` values: their repr and str are `Secret('***')`, so they never reach a log line,
an exception message or a repr of the settings. Read the value with `.reveal()` where it is used.

Sections group the knobs of each component (one dataclass each) so a constructor takes the one group
it needs instead of a long parameter list.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from kernel.records import Topics

PREFIX = "CONVSYNC_"
T = TypeVar("T")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and never shows a secret value."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that never prints. Compare with `hmac.compare_digest(a.reveal(), b)`."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***` (for logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: Secret | None  # None: the embedded PostgreSQL is started (dev, tests)
    pool_max: int = 10
    # Enforced by the server on every connection the processes open (0 turns one off): a lock held by
    # a stuck transaction fails the statement waiting for it (the writer retries the batch) instead of
    # hanging the process. Group roles' own settings do not reach their members, so they are set here.
    statement_timeout_ms: int = 60_000  # CONVSYNC_DB_STATEMENT_TIMEOUT_MS
    lock_timeout_ms: int = 10_000  # CONVSYNC_DB_LOCK_TIMEOUT_MS

    def server_settings(self) -> dict[str, str]:
        """asyncpg `server_settings` for the processes' connections (not for migrations).

        `plan_cache_mode=force_custom_plan`: asyncpg prepares every statement, and after five runs
        PostgreSQL may keep one generic plan for it for as long as the connection lives. A writer
        started on small tables then kept plans made for them while they grew: refreshing 500
        conversations of a page holding 20,000 messages walked the whole page for each of them (55 ms
        per batch at the start, 580 ms after ten seconds; POST to row visible p99 1.3-2.2 s at 2,000/s
        in bench/consume.py). Planned for every run, with the tables' sizes as they are, it stays
        index-driven (p99 221 ms); planning costs a millisecond or two per statement."""
        return {"statement_timeout": str(self.statement_timeout_ms), "lock_timeout": str(self.lock_timeout_ms),
                "plan_cache_mode": "force_custom_plan"}


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap: str | None  # None: the embedded broker is started (dev, tests)
    idempotence: bool = True
    events_partitions: int = 12
    raw_partitions: int = 12  # CONVSYNC_RAW_PARTITIONS: the archive (no key; a group of bodies per partition)
    raw_retention_days: int = 30  # CONVSYNC_RAW_RETENTION_DAYS: -1 keeps the archive forever
    replication_factor: int = 1
    topic_prefix: str = ""  # "" in production: the topics are exactly convsync.events.v1 etc.

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    def environment(self) -> dict[str, str]:
        """These settings as the CONVSYNC_* variables `load` reads (for child processes)."""
        return {
            **({"CONVSYNC_KAFKA_BOOTSTRAP": self.bootstrap} if self.bootstrap else {}),
            "CONVSYNC_KAFKA_IDEMPOTENCE": "true" if self.idempotence else "false",
            "CONVSYNC_EVENTS_PARTITIONS": str(self.events_partitions),
            "CONVSYNC_RAW_PARTITIONS": str(self.raw_partitions),
            "CONVSYNC_RAW_RETENTION_DAYS": str(self.raw_retention_days),
            "CONVSYNC_REPLICATION_FACTOR": str(self.replication_factor),
            "CONVSYNC_TOPIC_PREFIX": self.topic_prefix,
        }


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    app_secrets: tuple[Secret, ...] = ()
    verify_token: Secret | None = None
    max_body_bytes: int = 1 << 20
    body_read_timeout_s: float = 10.0
    produce_timeout_s: float = 2.0
    spool_dir: str = ".convsync/spool"
    spool_max_bytes: int = 256 << 20
    linger_ms: int = 1  # CONVSYNC_PRODUCER_LINGER_MS: how long requests gather at most (sooner once none is arriving)


@dataclass(frozen=True, slots=True)
class AdminSettings:
    admin_token: Secret | None = None
    # CONVSYNC_ADMIN_PORT / _HOST (`convsync serve --admin-port/--admin-host`): the admin API, the
    # console and /metrics on a listener of their own; the webhook listener then answers 404 for them
    port: int | None = None
    host: str = "127.0.0.1"
    auth_failures_per_minute: int = 20  # CONVSYNC_ADMIN_AUTH_FAILURES_PER_MINUTE: then 429 for that client
    console_session_s: int = 28_800  # CONVSYNC_CONSOLE_SESSION_S: a console login lasts this long
    # CONVSYNC_CONSOLE_SECURE_COOKIE: the session cookie is Secure always (behind a TLS-ending proxy),
    # not only when the request itself came over HTTPS
    console_secure_cookie: bool = False


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    group_id: str = "convsync-writer"
    batch_max_records: int = 5000
    batch_max_wait_ms: int = 50  # CONVSYNC_BATCH_MAX_WAIT_MS: bounds a quiet event's wait (webhook -> row p99)
    max_consecutive_poison: int = 100
    graph_unsends: bool = True  # CONVSYNC_GRAPH_UNSENDS: a message a sync no longer finds is marked deleted


@dataclass(frozen=True, slots=True)
class GraphSettings:
    url: str = "https://graph.facebook.com"
    version: str = "v25.0"
    calls_per_second: float = 2.0
    token_keys: tuple[Secret, ...] = ()  # Fernet keys; the first encrypts, all decrypt (rotation)
    app_secret_for_proof: Secret | None = None  # defaults to the first app secret


# Every Messenger Platform webhook field that carries what convsync stores (Meta's names).
MESSAGING_FIELDS: tuple[str, ...] = (
    "messages", "message_echoes", "message_deliveries", "message_reads", "message_reactions", "message_edits",
    "messaging_postbacks", "messaging_referrals", "messaging_optins", "messaging_account_linking",
    "messaging_handovers", "messaging_policy_enforcement", "standby",
)


@dataclass(frozen=True, slots=True)
class ReconcilerSettings:
    interval_s: float = 300.0  # CONVSYNC_RECONCILE_INTERVAL_S: an active page's interval
    max_interval_s: float = 3600.0  # CONVSYNC_RECONCILE_MAX_INTERVAL_S: a quiet page's at most
    urgent_s: float = 60.0  # CONVSYNC_RECONCILE_URGENT_S: a suspicious page is synced again this soon
    app_calls_per_second: float = 40.0  # CONVSYNC_GRAPH_APP_CALLS_PER_SECOND: the app's budget, all replicas
    overlap_s: float = 900.0
    lease_s: float = 60.0  # CONVSYNC_SYNC_LEASE_S: renewed every third of it while a run works
    max_parallel_pages: int = 8
    page_size: int = 100  # conversations per listing call (Meta shrinks it via code 1 when too big)
    poll_s: float = 5.0  # how often the timer loop looks for due pages
    jitter: float = 0.1  # next sync in interval * (1 + up to this fraction), so replicas spread out
    apply_wait_s: float = 30.0  # ?wait=true / compat: how long to wait for the consumers to apply a run
    app_id: str | None = None  # CONVSYNC_APP_ID: the Meta app whose page subscriptions are checked
    subscription_check_s: float = 3600.0  # CONVSYNC_SUBSCRIPTION_CHECK_S: how often each page's is checked
    subscribed_fields: tuple[str, ...] = MESSAGING_FIELDS  # CONVSYNC_SUBSCRIBED_FIELDS
    silence_threshold_s: float = 900.0  # CONVSYNC_SILENCE_THRESHOLD_S: Graph activity this far past the last webhook
    profile_limit: int = 20  # CONVSYNC_PROFILE_LIMIT: profiles read after each successful run (0: none)
    profile_refresh_days: float = 7.0  # CONVSYNC_PROFILE_REFRESH_DAYS: read (or refused) profiles asked again after


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseSettings
    kafka: KafkaSettings
    webhook: WebhookSettings
    admin: AdminSettings
    consumer: ConsumerSettings
    graph: GraphSettings
    reconciler: ReconcilerSettings
    data_dir: str = ".convsync"
    log_format: str = "auto"  # auto | json | console

    def with_infrastructure(self, database_url: str, kafka_bootstrap: str, *, idempotence: bool) -> Settings:
        """A copy pointing at started infrastructure (the embedded stack)."""
        return dataclasses.replace(
            self,
            database=dataclasses.replace(self.database, url=Secret(database_url)),
            kafka=dataclasses.replace(self.kafka, bootstrap=kafka_bootstrap, idempotence=idempotence),
        )


class _Reader:
    """Reads and validates one variable at a time; errors name the variable, never its value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.names: set[str] = set()

    def raw(self, name: str) -> str | None:
        self.names.add(PREFIX + name)
        value = self._env.get(PREFIX + name)
        return None if value is None or value.strip() == "" else value.strip()

    def parsed(self, name: str, parse: Callable[[str], T], default: T, what: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except (ValueError, TypeError):
            raise SettingsError(f"{PREFIX}{name} is malformed: expected {what}") from None

    def secret(self, name: str) -> Secret | None:
        value = self.raw(name)
        return None if value is None else Secret(value)

    def secrets(self, name: str) -> tuple[Secret, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        items = [v.strip() for v in value.split(",")]
        if any(not v for v in items):
            raise SettingsError(f"{PREFIX}{name} is malformed: empty item in comma-separated list")
        return tuple(Secret(v) for v in items)


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 65535:
        raise ValueError
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError
    return number


def _retention_days(value: str) -> int:
    number = int(value)
    if number <= 0 and number != -1:
        raise ValueError
    return number


def _digits(value: str) -> str:
    if not value.isdigit():
        raise ValueError
    return value


def _field_list(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(","))
    if not names or any(not re.fullmatch(r"[a-z_]+", n) for n in names):
        raise ValueError
    return names


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError
    return number


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError


def _database_url(value: str) -> Secret:
    parts = urlsplit(value)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError
    for host in parts.netloc.rpartition("@")[2].split(","):  # libpq allows several hosts
        if not re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*)(:\d{1,5})?", host):
            raise ValueError  # a port that is not a number (asyncpg would fail with a traceback)
    return Secret(value)


def _bootstrap(value: str) -> str:
    for server in value.split(","):
        if not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", server.strip()):
            raise ValueError
    return value


def _topic_prefix(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._\-]+", value):
        raise ValueError
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError
    return value.rstrip("/")


def _graph_version(value: str) -> str:
    if not re.fullmatch(r"v\d+\.\d+", value):
        raise ValueError
    return value


def _log_format(value: str) -> str:
    if value not in {"auto", "json", "console"}:
        raise ValueError
    return value


def known_variables() -> frozenset[str]:
    """Every CONVSYNC_* name `load` reads."""
    reader = _Reader({})
    _build(reader)
    return frozenset(reader.names)


def load(env: Mapping[str, str]) -> Settings:
    """Build the settings from an environment mapping; raise SettingsError naming a bad variable."""
    return _build(_Reader(env))


def _defaults(cls: type) -> dict[str, Any]:
    """The defaults a settings dataclass declares: each default is written once, there."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def _build(r: _Reader) -> Settings:
    """Each section from its variables; every default is the one its dataclass declares."""
    app_secrets = r.secrets("APP_SECRETS")
    d = _defaults(Settings)
    return Settings(
        database=_database_settings(r),
        kafka=_kafka_settings(r),
        webhook=_webhook_settings(r, app_secrets),
        admin=AdminSettings(admin_token=r.secret("ADMIN_TOKEN"),
                            port=r.parsed("ADMIN_PORT", _port, None, "a TCP port (1-65535)"),
                            host=r.raw("ADMIN_HOST") or "127.0.0.1",
                            auth_failures_per_minute=r.parsed("ADMIN_AUTH_FAILURES_PER_MINUTE", _positive_int, 20,
                                                              "a positive integer"),
                            console_session_s=r.parsed("CONSOLE_SESSION_S", _positive_int, 28_800,
                                                       "a positive integer (seconds)"),
                            console_secure_cookie=r.parsed("CONSOLE_SECURE_COOKIE", _bool, False, "true or false")),
        consumer=_consumer_settings(r),
        graph=_graph_settings(r, app_secrets),
        reconciler=_reconciler_settings(r),
        data_dir=r.raw("DATA_DIR") or d["data_dir"],
        log_format=r.parsed("LOG_FORMAT", _log_format, d["log_format"], "auto, json or console"),
    )


def _database_settings(r: _Reader) -> DatabaseSettings:
    d = _defaults(DatabaseSettings)
    return DatabaseSettings(
        url=r.parsed("DATABASE_URL", _database_url, None, "a postgresql:// URL"),
        pool_max=r.parsed("DATABASE_POOL_MAX", _positive_int, d["pool_max"], "a positive integer"),
        statement_timeout_ms=r.parsed("DB_STATEMENT_TIMEOUT_MS", _non_negative_int, d["statement_timeout_ms"],
                                      "milliseconds >= 0"),
        lock_timeout_ms=r.parsed("DB_LOCK_TIMEOUT_MS", _non_negative_int, d["lock_timeout_ms"], "milliseconds >= 0"),
    )


def _kafka_settings(r: _Reader) -> KafkaSettings:
    d = _defaults(KafkaSettings)
    return KafkaSettings(
        bootstrap=r.parsed("KAFKA_BOOTSTRAP", _bootstrap, None, "host:port[,host:port...]"),
        idempotence=r.parsed("KAFKA_IDEMPOTENCE", _bool, d["idempotence"], "true or false"),
        events_partitions=r.parsed("EVENTS_PARTITIONS", _positive_int, d["events_partitions"], "a positive integer"),
        raw_partitions=r.parsed("RAW_PARTITIONS", _positive_int, d["raw_partitions"], "a positive integer"),
        raw_retention_days=r.parsed("RAW_RETENTION_DAYS", _retention_days, d["raw_retention_days"],
                                    "a positive number of days, or -1 (forever)"),
        replication_factor=r.parsed("REPLICATION_FACTOR", _positive_int, d["replication_factor"], "a positive integer"),
        topic_prefix=r.parsed("TOPIC_PREFIX", _topic_prefix, d["topic_prefix"], "letters, digits, '.', '_' or '-'"),
    )


def _webhook_settings(r: _Reader, app_secrets: tuple[Secret, ...]) -> WebhookSettings:
    d = _defaults(WebhookSettings)
    return WebhookSettings(
        app_secrets=app_secrets,
        verify_token=r.secret("VERIFY_TOKEN"),
        max_body_bytes=r.parsed("MAX_BODY_BYTES", _positive_int, d["max_body_bytes"], "a positive integer"),
        body_read_timeout_s=r.parsed("BODY_READ_TIMEOUT_S", _positive_float, d["body_read_timeout_s"], "seconds > 0"),
        produce_timeout_s=r.parsed("PRODUCE_TIMEOUT_S", _positive_float, d["produce_timeout_s"], "seconds > 0"),
        spool_dir=r.raw("SPOOL_DIR") or d["spool_dir"],
        spool_max_bytes=r.parsed("SPOOL_MAX_BYTES", _positive_int, d["spool_max_bytes"], "a positive integer"),
        linger_ms=r.parsed("PRODUCER_LINGER_MS", _non_negative_int, d["linger_ms"], "an integer >= 0"),
    )


def _consumer_settings(r: _Reader) -> ConsumerSettings:
    d = _defaults(ConsumerSettings)
    return ConsumerSettings(
        group_id=r.raw("CONSUMER_GROUP") or d["group_id"],
        batch_max_records=r.parsed("BATCH_MAX_RECORDS", _positive_int, d["batch_max_records"], "a positive integer"),
        batch_max_wait_ms=r.parsed("BATCH_MAX_WAIT_MS", _positive_int, d["batch_max_wait_ms"], "a positive integer"),
        max_consecutive_poison=r.parsed("MAX_CONSECUTIVE_POISON", _positive_int, d["max_consecutive_poison"],
                                        "a positive integer"),
        graph_unsends=r.parsed("GRAPH_UNSENDS", _bool, d["graph_unsends"], "true or false"),
    )


def _graph_settings(r: _Reader, app_secrets: tuple[Secret, ...]) -> GraphSettings:
    d = _defaults(GraphSettings)
    return GraphSettings(
        url=r.parsed("GRAPH_URL", _http_url, d["url"], "an http(s):// URL"),
        version=r.parsed("GRAPH_VERSION", _graph_version, d["version"], "a version like v25.0"),
        calls_per_second=r.parsed("GRAPH_CALLS_PER_SECOND", _positive_float, d["calls_per_second"], "a number > 0"),
        token_keys=r.secrets("TOKEN_KEY"),
        app_secret_for_proof=app_secrets[0] if app_secrets else None,
    )


def _reconciler_settings(r: _Reader) -> ReconcilerSettings:
    d = _defaults(ReconcilerSettings)
    return ReconcilerSettings(
        interval_s=r.parsed("RECONCILE_INTERVAL_S", _positive_float, d["interval_s"], "seconds > 0"),
        max_interval_s=r.parsed("RECONCILE_MAX_INTERVAL_S", _positive_float, d["max_interval_s"], "seconds > 0"),
        urgent_s=r.parsed("RECONCILE_URGENT_S", _positive_float, d["urgent_s"], "seconds > 0"),
        app_calls_per_second=r.parsed("GRAPH_APP_CALLS_PER_SECOND", _positive_float, d["app_calls_per_second"],
                                      "calls per second > 0"),
        overlap_s=r.parsed("SYNC_OVERLAP_S", _positive_float, d["overlap_s"], "seconds > 0"),
        lease_s=r.parsed("SYNC_LEASE_S", _positive_float, d["lease_s"], "seconds > 0"),
        max_parallel_pages=r.parsed("SYNC_MAX_PARALLEL_PAGES", _positive_int, d["max_parallel_pages"],
                                    "a positive integer"),
        page_size=r.parsed("SYNC_PAGE_SIZE", _positive_int, d["page_size"], "a positive integer"),
        poll_s=r.parsed("RECONCILE_POLL_S", _positive_float, d["poll_s"], "seconds > 0"),
        jitter=r.parsed("RECONCILE_JITTER", _positive_float, d["jitter"], "a fraction > 0"),
        apply_wait_s=r.parsed("SYNC_APPLY_WAIT_S", _positive_float, d["apply_wait_s"], "seconds > 0"),
        app_id=r.parsed("APP_ID", _digits, None, "a Meta app id (digits)"),
        subscription_check_s=r.parsed("SUBSCRIPTION_CHECK_S", _positive_float, d["subscription_check_s"],
                                      "seconds > 0"),
        silence_threshold_s=r.parsed("SILENCE_THRESHOLD_S", _positive_float, d["silence_threshold_s"],
                                     "seconds > 0"),
        subscribed_fields=r.parsed("SUBSCRIBED_FIELDS", _field_list, d["subscribed_fields"],
                                   "comma-separated webhook field names"),
        profile_limit=r.parsed("PROFILE_LIMIT", _non_negative_int, d["profile_limit"], "an integer >= 0"),
        profile_refresh_days=r.parsed("PROFILE_REFRESH_DAYS", _positive_float, d["profile_refresh_days"],
                                      "days > 0"),
    )


def require(value: T | None, name: str) -> T:
    """The value of a setting a command cannot run without, or SettingsError naming it."""
    if value is None or value == ():
        raise SettingsError(f"{PREFIX}{name} is missing: this command needs it")
    return value
