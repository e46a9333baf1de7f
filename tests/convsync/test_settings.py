"""Settings: a bad value is one line naming the variable; secrets never print."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
import structlog

from convsync import logs
from kernel.settings import Secret, SettingsError, load, redact_url, require

SECRETS = {
    "CONVSYNC_APP_SECRETS": "appsecret-one-123,appsecret-two-456",
    "CONVSYNC_VERIFY_TOKEN": "verify-token-789",
    "CONVSYNC_ADMIN_TOKEN": "admin-token-abc",
    "CONVSYNC_TOKEN_KEY": "tokenkey-def",
    "CONVSYNC_DATABASE_URL": "postgresql://app:dbpassword-xyz@127.0.0.1:5432/convsync",
}


def test_defaults() -> None:
    s = load({})
    assert s.database.url is None and s.kafka.bootstrap is None
    assert s.kafka.idempotence is True
    assert s.graph.url == "https://graph.facebook.com" and s.graph.version == "v25.0"
    assert s.kafka.topics.events == "convsync.events.v1"


def test_values_are_parsed() -> None:
    s = load({**SECRETS, "CONVSYNC_KAFKA_BOOTSTRAP": "127.0.0.1:9092,127.0.0.1:9093",
              "CONVSYNC_KAFKA_IDEMPOTENCE": "false", "CONVSYNC_GRAPH_VERSION": "v24.0"})
    assert [x.reveal() for x in s.webhook.app_secrets] == ["appsecret-one-123", "appsecret-two-456"]
    assert s.kafka.idempotence is False and s.graph.version == "v24.0"
    assert s.graph.app_secret_for_proof == Secret("appsecret-one-123")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONVSYNC_KAFKA_IDEMPOTENCE", "maybe"),
        ("CONVSYNC_EVENTS_PARTITIONS", "twelve"),
        ("CONVSYNC_EVENTS_PARTITIONS", "0"),
        ("CONVSYNC_DATABASE_URL", "mysql://secret-password@host/db"),
        ("CONVSYNC_DATABASE_URL", "postgresql://app:secret-password@127.0.0.1:abc/db"),
        ("CONVSYNC_KAFKA_BOOTSTRAP", "not a host"),
        ("CONVSYNC_GRAPH_URL", "ftp://x"),
        ("CONVSYNC_GRAPH_VERSION", "version-nine"),
        ("CONVSYNC_APP_SECRETS", "a,,b"),
    ],
)
def test_malformed_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load({name: value})
    message = str(caught.value)
    assert name in message and "\n" not in message
    assert value not in message


def test_require_names_missing() -> None:
    with pytest.raises(SettingsError, match="CONVSYNC_ADMIN_TOKEN is missing"):
        require(load({}).admin.admin_token, "ADMIN_TOKEN")


def test_secrets_never_in_repr() -> None:
    text = repr(load(SECRETS)) + str(load(SECRETS))
    for value in ["appsecret-one-123", "appsecret-two-456", "verify-token-789", "admin-token-abc",
                  "tokenkey-def", "dbpassword-xyz"]:
        assert value not in text


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_secrets_never_in_logs() -> None:
    settings = load(SECRETS)
    out = io.StringIO()
    logs.configure("json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    logs.register_secrets([s.reveal() for s in settings.webhook.app_secrets] + ["dbpassword-xyz"])
    log = structlog.get_logger("test")
    log.info("settings_loaded", settings=repr(settings), database=settings.database.url)
    log.info("oops", detail="connect failed for postgresql://app:dbpassword-xyz@h/db")
    text = out.getvalue()
    assert "settings_loaded" in text and "oops" in text
    for value in ["appsecret-one-123", "verify-token-789", "admin-token-abc", "dbpassword-xyz"]:
        assert value not in text


def test_library_loggers_and_decrypted_page_tokens_are_scrubbed_too() -> None:
    import logging

    from reconciler.tokens import TokenCipher

    logs.configure("json")
    cipher = TokenCipher([Secret("9e1Dd8kp1cHBj3E6y7U0B4j1qv3JfX3b8Jm8QmB2Q0A=")])
    stored = cipher.encrypt("EAAGpage-token-from-the-admin-api")
    TokenCipher([Secret("9e1Dd8kp1cHBj3E6y7U0B4j1qv3JfX3b8Jm8QmB2Q0A=")]).decrypt(stored)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    for name in ("aiokafka", "asyncpg", "aiohttp.client"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        try:
            logger.warning("request to %s failed", "https://graph/x?access_token=EAAGpage-token-from-the-admin-api")
            try:
                raise RuntimeError("echoed EAAGpage-token-from-the-admin-api")
            except RuntimeError:
                logger.exception("boom")
        finally:
            logger.removeHandler(handler)
    text = out.getvalue()
    assert text.count("request to https://graph/x?access_token=***") == 3 and "echoed ***" in text
    assert "EAAGpage" not in text


def test_cli_reports_bad_setting_in_one_line() -> None:
    env = {**os.environ, **SECRETS, "CONVSYNC_EVENTS_PARTITIONS": "lots"}
    done = subprocess.run([sys.executable, "-m", "convsync", "migrate"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["convsync: CONVSYNC_EVENTS_PARTITIONS is malformed: expected a positive integer"]
    for value in SECRETS.values():
        assert value not in done.stderr + done.stdout


def test_cli_reports_a_malformed_token_key_in_one_line() -> None:
    """The key is checked where it is used (reconciler.tokens); that is still a settings error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}
    done = subprocess.run([sys.executable, "-m", "convsync", "pages", "add", "123", "--token", "T"],
                          env={**env, "CONVSYNC_TOKEN_KEY": "not-a-fernet-key",
                               "CONVSYNC_DATABASE_URL": "postgresql://127.0.0.1:1/none"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == ["convsync: CONVSYNC_TOKEN_KEY is malformed: expected Fernet keys"]
    assert "not-a-fernet-key" not in done.stderr + done.stdout


def test_cli_help_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "convsync", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ["dev", "serve", "consume", "reconcile", "sync", "migrate", "pages", "emulator"]:
        assert f"  {command} " in done.stdout
