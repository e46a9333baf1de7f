"""Fixtures of the artifact tests: the wheel built and installed the Dockerfile's way, once per session.

`wheel` builds from a copy of the working tree (never in place: setuptools' `build/` folder would
carry files deleted since). `installed` creates a fresh virtualenv, installs the wheel into it as the
image does (no extras), and yields the installed `convsync`; nothing of the checkout is importable from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.artifact import dockerfile

IGNORED = shutil.ignore_patterns(".git", ".venv", ".convsync", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", ".mypy_cache", ".hypothesis", "results")


@dataclass(frozen=True)
class Installed:
    venv: Path
    workdir: Path  # outside the checkout: nothing there can shadow the installed packages

    @property
    def convsync(self) -> Path:
        return self.venv / "bin" / "convsync"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment without anything that points back at the checkout."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return {**env, **extra}


def _run(command: str, *, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("artifact") / "src"
    shutil.copytree(dockerfile.ROOT, target, ignore=IGNORED)
    return target


@pytest.fixture(scope="session")
def wheel(source_copy: Path) -> Path:
    """The wheel, built by the Dockerfile's build step."""
    dist = source_copy.parent / "dist"
    step = dockerfile.load().steps["build"]
    _run(dockerfile.for_here(step, {"/src": source_copy, "/dist": dist}, Path(sys.executable)), cwd=source_copy)
    (built,) = dist.glob("convsync-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path) -> Installed:
    """A fresh virtualenv holding the wheel, installed by the Dockerfile's install step."""
    base = wheel.parent.parent
    target, dist, workdir = base / "venv", base / "dist-install", base / "work"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    dist.mkdir()
    shutil.copy2(wheel, dist)
    workdir.mkdir()
    parsed = dockerfile.load()
    here = Installed(target, workdir)
    step = dockerfile.for_here(parsed.steps["install"], {"/dist": dist}, here.python)
    _run(step, cwd=workdir, env=here.env(**parsed.arg_defaults))
    return here
