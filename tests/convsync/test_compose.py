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
    assert set(_convsync_services()) == {"migrate", "serve", "consume", "reconcile", "emulator"}
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
    for name in ("serve", "consume", "reconcile"):
        conditions = services[name]["depends_on"]
        assert conditions["migrate"]["condition"] == "service_completed_successfully"
        assert conditions["kafka"]["condition"] == "service_healthy"
    assert services["emulator"]["profiles"] == ["emulator"]
