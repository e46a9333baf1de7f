"""Headless Chromium for the console's browser tests: Debian's `chromium`, driven by Playwright.

Playwright's own browser download needs the internet; Debian's package comes from the package
mirror. The first browser test installs it with apt-get when it is missing (as the Apache Kafka leg
fetches its broker), or uses $CONVSYNC_CHROMIUM. Without root or apt-get the test fails saying how
to install it, never skips quietly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# What this machine's closed network needs: no background fetches, no QUIC, no sandbox as root.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


class BrowserUnavailable(RuntimeError):
    pass


def chromium() -> str:
    """The Chromium executable to drive, installed from Debian's packages when it is not there."""
    chosen = os.environ.get("CONVSYNC_CHROMIUM")
    if chosen:
        return chosen
    if not DEBIAN_CHROMIUM.exists():
        _install()
    return str(DEBIAN_CHROMIUM)


def _install() -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise BrowserUnavailable("the console's browser tests need Chromium: `apt-get install chromium` as root "
                                 "(Debian), or set CONVSYNC_CHROMIUM to a Chromium executable")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise BrowserUnavailable(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
