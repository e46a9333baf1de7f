#!/usr/bin/env python3
"""The two commands of the quick start, needing nothing but Python 3.11+.

    python3 tasks.py dev    # the whole system on the embedded default (`convsync dev`)
    python3 tasks.py test   # the whole test suite, as CI runs it (.ci/run)

Each one creates `.venv/` beside this file (once, and again whenever pyproject.toml changes),
installs convsync with its embedded PostgreSQL and broker into it, then runs.

`test` without arguments first type-checks (`mypy --strict`, configured in pyproject.toml), then
runs three legs: the whole suite on Tansu (the embedded broker); the wheel
leg (`-m artifact`: the wheel built and installed the Dockerfile's way into a fresh virtualenv, and
its `convsync` smoke-tested from a folder outside the checkout); then the Kafka-facing tests
(`-m "kafka or apache_only"`) again on Apache Kafka (`CONVSYNC_TEST_KAFKA=apache`: the official broker
jars, fetched with mvn into ~/.cache/convsync, or $CONVSYNC_KAFKA_CACHE, once; needs java 17+ and
mvn). It passes only if every leg passes. With `CONVSYNC_KAFKA_BOOTSTRAP` set
(a Kafka of your own) it runs the suite once against that broker.

With arguments, one pytest run with exactly those arguments, on the broker the environment names
(Tansu unless `CONVSYNC_TEST_KAFKA=apache` or `CONVSYNC_KAFKA_BOOTSTRAP`), for iterating:

    python3 tasks.py test -k webhook
    python3 tasks.py test tests/ingest -x
    CONVSYNC_TEST_KAFKA=apache python3 tasks.py test -m kafka

`python3 tasks.py dev --pages 5`: arguments of `dev` go to `convsync dev`.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import time
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
    print("tasks: installing convsync[test] into .venv", flush=True)
    subprocess.run([*pip, "-U", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
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
    os.chdir(ROOT)
    if task == "dev":
        return subprocess.call([str(VENV / "bin" / "convsync"), "dev", *rest])
    if rest or os.environ.get("CONVSYNC_KAFKA_BOOTSTRAP"):
        return subprocess.call([py, "-m", "pytest", *rest])
    return test_matrix(py)


# (leg, broker, pytest arguments): the suite, the installed wheel, then what talks to Kafka on the reference broker.
LEGS = (
    ("tansu", "tansu", ("-m", "not artifact")),
    ("wheel", "tansu", ("-m", "artifact")),
    ("apache", "apache", ("-m", "kafka or apache_only")),
)


def test_matrix(py: str) -> int:
    """Every leg of LEGS; all must pass.

    Nothing is printed after a passing last leg, so pytest's own summary stays the closing line."""
    failed: list[str] = []
    print("tasks: mypy (strict)", flush=True)
    if subprocess.call([py, "-m", "mypy"]) != 0:
        failed.append("mypy")
    for leg, broker, args in LEGS:
        print(f"tasks: {shlex.join(['pytest', *args])} on {broker}", flush=True)
        started = time.monotonic()
        code = subprocess.call([py, "-m", "pytest", *args], env={**os.environ, "CONVSYNC_TEST_KAFKA": broker})
        if code != 0:
            failed.append(f"{leg} (pytest exit {code})")
        if code != 0 or leg != LEGS[-1][0]:
            print(f"tasks: {leg} leg {'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f}s")
    if failed:
        print(f"tasks: the test matrix failed on {', '.join(failed)}")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
