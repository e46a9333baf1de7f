"""docker-compose.yml cannot run here (no Docker engine), so check it against the code instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from convsync.cli import COMMANDS, main
from kernel.settings import known_variables

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _convsync_services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    return {name: spec for name, spec in services.items() if spec.get("image", "").startswith("convsync")}


def test_roles_are_present() -> None:
    assert set(_convsync_services()) == {"migrate", "serve", "admin", "consume", "reconcile", "emulator"}
    assert _compose()["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert _compose()["services"]["postgres"]["image"].startswith("postgres:")


def test_every_command_is_a_real_subcommand() -> None:
    real = set(COMMANDS) | set(main.commands)
    for name, spec in _convsync_services().items():
        assert spec["command"][0] in real, f"service {name} runs unknown command {spec['command'][0]}"


def test_every_variable_is_a_known_setting() -> None:
    known = known_variables()
    for name, spec in _convsync_services().items():
        for variable in spec["environment"]:
            assert variable in known, f"service {name} sets unknown setting {variable}"


def test_health_checks_and_ordering() -> None:
    services = _compose()["services"]
    for name in ("kafka", "postgres", "serve"):
        assert "healthcheck" in services[name], name
    for name in ("serve", "admin", "consume", "reconcile"):
        conditions = services[name]["depends_on"]
        assert conditions["migrate"]["condition"] == "service_completed_successfully"
        assert conditions["logins"]["condition"] == "service_completed_successfully"
        assert conditions["kafka"]["condition"] == "service_healthy"
    assert services["emulator"]["profiles"] == ["emulator"]


def test_each_service_gets_only_the_secrets_it_needs_and_only_the_edge_is_published() -> None:
    services = _convsync_services()
    env = {name: set(spec.get("environment", {})) for name, spec in services.items()}
    assert not env["serve"] & {"CONVSYNC_DATABASE_URL", "CONVSYNC_TOKEN_KEY", "CONVSYNC_ADMIN_TOKEN"}
    assert not env["consume"] & {"CONVSYNC_APP_SECRETS", "CONVSYNC_TOKEN_KEY", "CONVSYNC_ADMIN_TOKEN",
                                 "CONVSYNC_VERIFY_TOKEN"}
    assert "CONVSYNC_ADMIN_TOKEN" not in env["reconcile"]
    logins = {name: spec["environment"]["CONVSYNC_DATABASE_URL"].split("//")[1].split(":")[0]
              for name, spec in services.items() if "CONVSYNC_DATABASE_URL" in spec.get("environment", {})}
    assert logins == {"migrate": "convsync", "admin": "convsync_serve", "consume": "convsync_consume",
                      "reconcile": "convsync_reconcile"}  # only migrate as the owner
    published = {name for name, spec in _compose()["services"].items() if spec.get("ports")}
    assert published == {"serve"}
    assert "--admin-port" in services["admin"]["command"]
    script = (ROOT / "deploy" / "logins.sql").read_text()
    for login, role in (("convsync_serve", "convsync_admin"), ("convsync_consume", "convsync_writer"),
                        ("convsync_reconcile", "convsync_reconciler")):
        assert f"('{login}', '{role}')" in script
