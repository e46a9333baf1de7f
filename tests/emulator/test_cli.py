"""`convsync emulator` as its own OS process: it announces its URL, serves the Graph API, sends signed traffic."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import aiohttp
import pytest

from tests.emulator.receiver import Receiver, receiving

pytestmark = pytest.mark.integration

SECRET = "cli-test-secret"


async def test_cli_serves_graph_and_sends_bounded_traffic() -> None:
    async with receiving(Receiver(SECRET)) as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")} | {
            "CONVSYNC_APP_SECRETS": SECRET
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from convsync.cli import run; run()",
            "emulator",
            "--graph-port",
            "0",
            "--webhook-url",
            receiver.url,
            "--rate",
            "200",
            "--max-changes",
            "60",
            "--duration",
            "20",
            "--seed",
            "3",
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/v25\.0/", first)
        assert match, first
        async with aiohttp.ClientSession() as http, http.get(f"{match.group(1)}/_emulator/pages") as response:
            pages = await response.json()
        assert len(pages) == 2
        output = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
        assert await asyncio.wait_for(process.wait(), 10) == 0
    assert "(traffic finished)" in output and "changes 60" in output
    assert receiver.bad_signatures == 0 and receiver.events()
