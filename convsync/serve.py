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
    from reconciler.admin import admin_api
    from replay.admin import replay_api

    from reconciler import metrics as reconciler_metrics

    routes, lifespan = admin_api(settings)
    replay_routes, replay_lifespan = replay_api(settings)
    # /metrics also shows what the syncs this process ran counted (gaps found, Graph calls, throttles)
    return create_app(settings, extra_routes=[*routes, *replay_routes], extra_lifespans=[lifespan, replay_lifespan],
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
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int, access_log: bool) -> None:
    """Webhook + admin HTTP (uvicorn)."""
    require(settings.webhook.app_secrets, "APP_SECRETS")
    require(settings.webhook.verify_token, "VERIFY_TOKEN")
    require(settings.kafka.bootstrap, "KAFKA_BOOTSTRAP")
    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, loop="uvloop",
                            http="httptools", lifespan="on", access_log=access_log, log_config=uvicorn_log_config(),
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, server_header=False)
    with shared_metrics(workers):
        run(config)


def run(config: uvicorn.Config) -> None:
    """What `uvicorn.run` does, except that with several workers each listens on a socket of its own
    (`convsync.listeners`), so connections spread evenly across them."""
    if config.workers == 1:
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    sock = listeners.reuse_port_socket(config.host, config.port) if listeners.SUPPORTED else config.bind_socket()
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


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
