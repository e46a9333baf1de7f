"""The wheel carries every file the code opens at run time, and the Dockerfile installs that wheel."""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.artifact import dockerfile

pytestmark = [pytest.mark.artifact]


def package_roots(source: Path) -> list[Path]:
    """The top-level package folders pyproject.toml ships (its `packages.find` include patterns)."""
    config = tomllib.loads((source / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(source / pattern.rstrip("*") for pattern in include if (source / pattern.rstrip("*")).is_dir())


def files_under(roots: list[Path], source: Path) -> set[str]:
    return {path.relative_to(source).as_posix() for root in roots for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def test_every_file_under_the_packages_is_in_the_wheel(source_copy: Path, wheel: Path) -> None:
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = files_under(package_roots(source_copy), source_copy)
    assert any(name.endswith(".sql") and "/sql/" in name for name in expected), "the writer's SQL must be seen"
    missing = sorted(expected - shipped)
    assert not missing, f"in the source tree but not in {wheel.name}: {', '.join(missing)}"


def test_the_wheel_ships_the_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert "convsync = convsync.cli:run" in archive.read(entry_points).decode()


def test_the_check_names_a_file_left_out(tmp_path: Path) -> None:
    """The comparison itself: a file under a package that the wheel lacks is named."""
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools.packages.find]\ninclude = ["pkg*"]\n')
    (tmp_path / "pkg" / "templates").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "templates" / "page.html").write_text("<p>")
    expected = files_under(package_roots(tmp_path), tmp_path)
    assert sorted(expected - {"pkg/__init__.py"}) == ["pkg/templates/page.html"]


def test_the_dockerfile_builds_the_wheel_then_installs_only_it_as_a_user() -> None:
    parsed = dockerfile.load()
    build, final = parsed.stages[0], parsed.stages[-1]
    assert len(parsed.stages) == 2 and build.name == "build"
    assert "pip wheel" in parsed.steps["build"] and "--no-deps" in parsed.steps["build"]
    install = parsed.steps["install"]
    assert "pip install" in install and ".whl" in install and " -e " not in install
    assert ("RUN", install) in final.instructions, "the install step belongs to the final stage"
    assert final.args("COPY") == ["--from=build /dist /dist"], "the final image copies the wheel, no source"
    assert "[" not in install, "the plain wheel, as `pip install convsync` installs it: no extras"
    user = final.args("USER")
    assert user and user[-1] not in {"root", "0"}
    assert final.args("ENTRYPOINT") == ['["convsync"]']


def test_the_dockerignore_keeps_local_state_out_of_the_build() -> None:
    ignored = set((dockerfile.ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".convsync", "build"} <= ignored


def test_marked_steps_run_here_with_our_folders() -> None:
    step = 'python -m pip install --no-cache-dir "$(ls /dist/convsync-*.whl)[${X}]" && rm -rf /dist'
    here = dockerfile.for_here(step, {"/dist": Path("/tmp/d")}, Path("/v/bin/python"))
    assert here == '/v/bin/python -m pip install "$(ls /tmp/d/convsync-*.whl)[${X}]" && rm -rf /tmp/d'
