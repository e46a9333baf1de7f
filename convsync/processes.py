"""convsync roles as separate OS processes, as deployed: used by `convsync dev` and the e2e tests.

Each role is `python -m convsync <command>` (or another `convsync` executable: the artifact tests run
an installed wheel's) with an environment of `CONVSYNC_*` variables; its output goes to a log file. Children die with the process that started them (PR_SET_PDEATHSIG), and
`Processes.stop_all()` ends them in reverse start order: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from convsync.embedded import _die_with_parent
from kernel.settings import KafkaSettings


class ProcessError(RuntimeError):
    """A role exited or did not become ready; the message names its log file."""


def role_env(database_url: str, kafka: KafkaSettings, graph_url: str, folder: Path,
             secrets: Mapping[str, str], **settings: str) -> dict[str, str]:
    """The CONVSYNC_* environment every role of one system shares: where PostgreSQL, Kafka and the
    Graph API are, the secrets, a spool under `folder`, JSON logs; `settings` add CONVSYNC_<NAME>s."""
    return {
        **secrets,
        "CONVSYNC_DATABASE_URL": database_url,
        **kafka.environment(),
        "CONVSYNC_GRAPH_URL": graph_url,
        "CONVSYNC_SPOOL_DIR": str(folder / "spool"),
        "CONVSYNC_LOG_FORMAT": "json",
        **{f"CONVSYNC_{name.upper()}": value for name, value in settings.items()},
    }


def this_convsync() -> list[str]:
    """The `convsync` of this interpreter."""
    return [sys.executable, "-m", "convsync"]


@dataclass
class Role:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    command: list[str] = field(default_factory=this_convsync)
    cwd: Path | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [*self.command, *self.argv], env=self.env, cwd=self.cwd, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=lambda: _die_with_parent(signal.SIGTERM),
            )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(sig)

    def stop(self, grace_s: float = 20.0) -> int | None:
        """SIGTERM, wait up to `grace_s`, then SIGKILL. Returns the exit code."""
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(10)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.popen is not None and self.alive:
            self.popen.kill()
            self.popen.wait(10)

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Processes:
    """The roles this process started, by name."""

    env: Mapping[str, str]
    log_dir: Path
    roles: dict[str, Role] = field(default_factory=dict)
    command: list[str] = field(default_factory=this_convsync)  # how `convsync` is started
    cwd: Path | None = None  # the roles' working directory (None: this process's)

    def start(self, name: str, *argv: str, extra_env: Mapping[str, str] | None = None) -> Role:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, **(extra_env or {})}
        role = Role(name, list(argv), env, self.log_dir / f"{name}.log", command=self.command, cwd=self.cwd)
        role.start()
        self.roles[name] = role
        return role

    def stop_all(self) -> None:
        for role in reversed(list(self.roles.values())):
            role.stop()

    def check_alive(self) -> None:
        for role in self.roles.values():
            if not role.alive:
                raise ProcessError(f"{role.name} exited; last lines of {role.log_path}:\n{role.tail()}")


def wait_http_ok(url: str, role: Role, timeout_s: float = 60.0) -> None:
    """Wait until GET `url` answers 2xx, failing early if `role` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not role.alive:
            raise ProcessError(f"{role.name} exited; last lines of {role.log_path}:\n{role.tail()}")
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if 200 <= response.status < 300:
                    return
        time.sleep(0.2)
    raise ProcessError(f"{role.name} not ready at {url} within {timeout_s:.0f}s; see {role.log_path}")
