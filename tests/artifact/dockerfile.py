"""The Dockerfile, read as data: its stages, its `ARG` defaults, and the steps marked `# artifact: NAME`.

The artifact tests run those marked steps themselves, so the wheel they test is built and installed
exactly the way the image builds and installs it (there is no Docker engine on the CI machine).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


@dataclass
class Dockerfile:
    stages: list[Stage]
    steps: dict[str, str]  # marked step name -> the shell command of its RUN
    arg_defaults: dict[str, str]


def parse(text: str) -> Dockerfile:
    stages: list[Stage] = []
    steps: dict[str, str] = {}
    defaults: dict[str, str] = {}
    marked: str | None = None
    for line in _logical_lines(text):
        marker = re.fullmatch(r"#\s*artifact:\s*(\w+)", line)
        if marker:
            marked = marker.group(1)
            continue
        if line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "FROM":
            words = rest.split()
            stages.append(Stage(words[0], words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
            continue
        stages[-1].instructions.append((instruction, rest))
        if instruction == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            defaults[name] = value
        if marked is not None:
            if instruction != "RUN":
                raise ValueError(f"'# artifact: {marked}' must mark a RUN, not {instruction}")
            steps[marked], marked = rest, None
    return Dockerfile(stages, steps, defaults)


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined, blank ones dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            lines.append(line)
    return lines


def load() -> Dockerfile:
    return parse(DOCKERFILE.read_text())


def for_here(command: str, paths: dict[str, Path], python: Path) -> str:
    """A marked step as this machine runs it: the image's folders replaced by ours, `python` by ours.

    `--no-cache-dir` is dropped: it keeps the image small; here pip's cache spares repeat runs a download."""
    for image_path, here in sorted(paths.items(), key=lambda item: -len(item[0])):
        command = re.sub(rf"(?<![\w/]){re.escape(image_path)}(?![\w])", shlex.quote(str(here)), command)
    command = re.sub(r"(?<![\w/-])python(?= -m pip )", shlex.quote(str(python)), command)
    return command.replace(" --no-cache-dir", "")
