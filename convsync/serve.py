"""`convsync serve`: the webhook edge (and the admin API routes composed beside it) under uvicorn.

uvicorn (uvloop, httptools) runs `app_from_environment` in each worker process; each worker reads
the settings once from the environment it inherited. SIGTERM/Ctrl-C: uvicorn stops accepting,
finishes in-flight requests, then the lifespan flushes and stops the producer.
The webhook path never needs the database; `/readyz` checks it when CONVSYNC_DATABASE_URL is set.

With several workers, `/metrics` must not answer for the one worker that took the request: each
worker writes its metrics under one folder (prometheus_client's multiprocess mode,
PROMETHEUS_MULTIPROC_DIR) and any of them reports the sum. `serve` creates and removes that folder
unless PROMETHEUS_MULTIPROC_DIR is set already (then it must start empty).
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator

import click
import structlog
import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from convsync import listeners, logs
from ingest.access_log import uvicorn_log_config
from ingest.app import create_app
from kernel.settings import Settings, load, require

APP = "convsync.serve:app_from_environment"  # a factory, called in each worker
GRACEFUL_SHUTDOWN_S = 30
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
log = structlog.get_logger("convsync.serve")

GC_THRESHOLDS = (50_000, 50, 50)  # young generation size, then how often the older ones follow


def build_app(settings: Settings) -> Starlette:
    """The served app: the webhook edge, plus the admin API when an admin token and a database are set.

    Without them `serve` is a pure webhook edge (the admin routes then do not exist: 404)."""
    if settings.admin.admin_token is None or settings.database.url is None:
        log.info("admin_api_disabled", reason="CONVSYNC_ADMIN_TOKEN and CONVSYNC_DATABASE_URL enable it")
        return create_app(settings)
    from console.app import Console
    from reconciler.admin import AdminApi
    from replay.admin import ReplayApi

    from reconciler import metrics as reconciler_metrics

    from kernel.bearer import FailedAuth

    failures = FailedAuth(limit=settings.admin.auth_failures_per_minute)  # one count for every admin route
    admin, replays = AdminApi(settings, failures), ReplayApi(settings, failures)
    console = Console(settings, admin, replays, failures)  # the operator's web page, on the admin API's resources
    # /metrics also shows what the syncs this process ran counted (gaps found, Graph calls, throttles)
    return create_app(settings, extra_routes=[*admin.routes(), *replays.routes(), *console.routes()],
                      extra_lifespans=[admin.lifespan, replays.lifespan, console.lifespan],
                      extra_metrics=[reconciler_metrics.exposition])


def app_from_environment() -> Starlette:
    """uvicorn's factory, called once per worker process."""
    settings = load(os.environ)
    logs.configure(settings.log_format)
    logs.register_secrets(s.reveal() for s in (*settings.webhook.app_secrets, settings.webhook.verify_token,
                                               settings.admin.admin_token) if s is not None)
    app = build_app(settings)
    tune_garbage_collector()
    return app


def tune_garbage_collector() -> None:
    """Every request allocates a few hundred short-lived containers (JSON, futures, tasks), and with
    64 requests waiting on Kafka many survive a young collection; the default thresholds then
    rescan the heap so often that it cost ~15% of the CPU per request in bench/webhook.py.
    Objects from start-up live as long as the process: frozen, no pass rescans them."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="uvicorn worker processes.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One line per request (paths only: query strings are never printed).")
@click.option("--admin-port", type=click.IntRange(1, 65535), default=None,
              help="Serve the admin API, the console and /metrics on this port only (default: "
                   "CONVSYNC_ADMIN_PORT, else beside the webhook).")
@click.option("--admin-host", default=None, help="Address of the admin listener (default: CONVSYNC_ADMIN_HOST "
                                                 "or 127.0.0.1).")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int, access_log: bool, admin_port: int | None,
          admin_host: str | None) -> None:
    """Webhook + admin HTTP (uvicorn)."""
    require(settings.webhook.app_secrets, "APP_SECRETS")
    require(settings.webhook.verify_token, "VERIFY_TOKEN")
    require(settings.kafka.bootstrap, "KAFKA_BOOTSTRAP")
    admin_port = admin_port or settings.admin.port
    admin_host = admin_host or settings.admin.host
    if admin_port is not None:  # the workers read their settings from the environment they inherit
        if admin_port == port:
            raise click.BadParameter("must differ from --port", param_hint="--admin-port")
        os.environ["CONVSYNC_ADMIN_PORT"], os.environ["CONVSYNC_ADMIN_HOST"] = str(admin_port), admin_host
    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, loop="uvloop",
                            http="httptools", lifespan="on", access_log=access_log, log_config=uvicorn_log_config(),
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, server_header=False,
                            proxy_headers=False)  # the app applies them, except to webhooks (ingest.app)
    with shared_metrics(workers):
        run(config, (admin_host, admin_port) if admin_port is not None else None)


def run(config: uvicorn.Config, admin: tuple[str, int] | None = None) -> None:
    """What `uvicorn.run` does, except that with several workers each listens on a socket of its own
    (`convsync.listeners`), so connections spread evenly across them; `admin` (host, port) adds the
    admin listener, served by the same app (which tells the two apart by the port)."""
    if config.workers == 1:
        # uvicorn stops gracefully on SIGTERM, then raises the signal again with the handler it found
        # installed: with this one the process exits 0 after a clean stop, as with several workers.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server = uvicorn.Server(config)
        sockets = None if admin is None else [config.bind_socket(), _plain_socket(*admin)]
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=sockets)
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    sockets = [_worker_socket(config.host, config.port, config)]
    if admin is not None:
        sockets.append(_worker_socket(*admin, config))
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=sockets).run()


def _worker_socket(host: str, port: int, config: uvicorn.Config) -> socket.socket:
    if listeners.SUPPORTED:
        return listeners.reuse_port_socket(host, port)
    return config.bind_socket() if (host, port) == (config.host, config.port) else _plain_socket(host, port)


def _plain_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """For several workers: a metrics folder in PROMETHEUS_MULTIPROC_DIR, inherited by every worker."""
    if workers == 1 or os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    folder = tempfile.mkdtemp(prefix="convsync-metrics-")
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(folder, ignore_errors=True)
