"""Toxiproxy (Shopify's TCP fault proxy) for the tests where the network misbehaves on purpose.

The server is a Go module: built once with `go install` into a cache outside the repository
(`~/.cache/convsync/toxiproxy-<version>/`, or `$CONVSYNC_TOOLS_CACHE`), the way the Apache Kafka
leg fetches its broker; later runs use the cache. Go comes with this machine (README). A test starts
its own server on a free loopback port, puts a proxy between a client and its upstream, and adds
toxics (latency, reset_peer, timeout, bandwidth...) through the HTTP API, then removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from convsync.embedded import EmbeddedError, free_port

VERSION = "v2.12.0"
MODULE = f"github.com/Shopify/toxiproxy/v2/cmd/server@{VERSION}"


def server_binary() -> Path:
    root = Path(os.environ.get("CONVSYNC_TOOLS_CACHE") or Path.home() / ".cache" / "convsync")
    target = root / f"toxiproxy-{VERSION}" / "server"
    if target.exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".toxiproxy-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _build(target)
    return target


def _build(target: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise EmbeddedError("the fault-proxy tests need `go` on PATH to build Toxiproxy")
    staging = Path(tempfile.mkdtemp(prefix=".toxiproxy-", dir=target.parent.parent))
    env = {**os.environ, "GOBIN": str(staging), "GOPATH": str(staging / "gopath"), "CGO_ENABLED": "0",
           "GOFLAGS": "-modcacherw"}
    done = subprocess.run([go, "install", MODULE], env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not (staging / "server").exists():
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedError(f"building Toxiproxy failed: go install {MODULE}\n{done.stderr[-3000:]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    (staging / "server").rename(target)
    shutil.rmtree(staging, ignore_errors=True)


@dataclass
class Proxy:
    api: str
    name: str
    listen_port: int
    http: aiohttp.ClientSession

    async def toxic(self, kind: str, *, stream: str = "downstream", toxicity: float = 1.0,
                    **attributes: Any) -> str:
        """Add a toxic (`latency` latency/jitter ms, `reset_peer` timeout ms, `timeout` timeout ms...)."""
        name = f"{kind}_{stream}_{len(attributes)}_{time.monotonic_ns()}"
        body = {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        async with self.http.post(f"{self.api}/proxies/{self.name}/toxics", json=body) as response:
            assert response.status == 200, await response.text()
        return name

    async def remove(self, toxic: str) -> None:
        async with self.http.delete(f"{self.api}/proxies/{self.name}/toxics/{toxic}") as response:
            assert response.status == 204, await response.text()

    async def clear(self) -> None:
        async with self.http.get(f"{self.api}/proxies/{self.name}/toxics") as response:
            toxics = await response.json()
        for toxic in toxics:
            await self.remove(toxic["name"])

    async def enabled(self, on: bool) -> None:
        """Off: every connection through the proxy is closed and new ones are refused."""
        async with self.http.post(f"{self.api}/proxies/{self.name}", json={"enabled": on}) as response:
            assert response.status == 200, await response.text()


@dataclass
class Toxiproxy:
    api: str
    http: aiohttp.ClientSession

    async def proxy(self, name: str, upstream_port: int, listen_port: int | None = None) -> Proxy:
        port = listen_port or free_port()
        body = {"name": name, "listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{upstream_port}",
                "enabled": True}
        async with self.http.post(f"{self.api}/proxies", json=body) as response:
            assert response.status == 201, await response.text()
        return Proxy(self.api, name, port, self.http)


@contextlib.asynccontextmanager
async def toxiproxy(log_path: Path) -> AsyncIterator[Toxiproxy]:
    """A Toxiproxy server of this test's own on 127.0.0.1, stopped (and only it) at the end."""
    port = free_port()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(server_binary()), "-host", "127.0.0.1", "-port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    api = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, f"toxiproxy exited: {log_path.read_text()[-2000:]}"
                try:
                    async with http.get(f"{api}/version") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "toxiproxy did not start"
                await asyncio.sleep(0.1)
            yield Toxiproxy(api, http)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
