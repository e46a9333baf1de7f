#!/usr/bin/env python3
"""The two commands of the quick start, needing nothing but Python 3.11+.

    python3 tasks.py dev    # the whole system on the embedded default (`convsync dev`)
    python3 tasks.py test   # the whole test suite

Each one creates `.venv/` beside this file (once, and again whenever pyproject.toml changes),
installs convsync with its embedded PostgreSQL and broker into it, then runs. Extra arguments are
passed through: `python3 tasks.py test -k webhook`, `python3 tasks.py dev --pages 5`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".convsync-installed"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> Path:
    """Create and fill the virtualenv unless it is already up to date with pyproject.toml."""
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp() and _venv_python().exists():
        return _venv_python()
    if not _venv_python().exists():
        print("tasks: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    py = str(_venv_python())
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("tasks: installing convsync[embedded,test] into .venv", flush=True)
    subprocess.run([*pip, "-U", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[embedded,test]"], check=True)
    STAMP.write_text(_wanted_stamp())
    return _venv_python()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"dev", "test", "setup"}:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    py = str(ensure_venv())
    if task == "setup":
        return 0
    if task == "dev":
        cmd = [str(VENV / "bin" / "convsync"), "dev", *rest]
    else:
        cmd = [py, "-m", "pytest", *rest]
    os.chdir(ROOT)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
