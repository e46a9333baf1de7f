"""Prometheus metrics of the reconciler (default registry; `convsync reconcile --metrics-port` serves it).

The missed-webhook metric counts, per page, messages the reconciler found in Graph that no webhook
had delivered: the writer records them per run (`sync_runs.gap_messages`), and once a run's records
are applied this process adds them here.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

RUNS = Counter("convsync_reconciler_runs_total", "Sync runs finished.", ["mode", "status"])
GRAPH_CALLS = Counter("convsync_reconciler_graph_calls_total", "Graph API calls made.", ["page_id"])
THROTTLED = Counter("convsync_reconciler_throttled_total", "Graph API calls answered with a throttle.", ["page_id"])
CONVERSATIONS = Counter("convsync_reconciler_conversations_total", "Conversation snapshots produced.", ["page_id"])
MISSED_WEBHOOK_MESSAGES = Counter(
    "convsync_missed_webhook_messages_total",
    "Messages the reconciler found that no webhook had delivered (sync_runs.gap_messages).",
    ["page_id"],
)
PROFILES = Counter(
    "convsync_reconciler_profiles_total",
    "People's profiles the contacts pass read, or Meta refused (reconciler.profiles).",
    ["outcome"],
)

WEBHOOK_SILENCE = Gauge(
    "convsync_page_webhook_silence_seconds",
    "How far the page's newest Graph activity leads its newest webhook, at its last sync (reconciler.silence).",
    ["page_id"],
)

SCHEDULE_BEHIND = Gauge(
    "convsync_schedule_behind",
    "Active pages past their due time that no replica is syncing, after this replica's last tick.",
)
SCHEDULE_LATEST = Gauge(
    "convsync_schedule_most_overdue_seconds",
    "How long the most overdue of those pages has been due, after this replica's last tick.",
)

STALENESS = Histogram(
    "convsync_sync_staleness_seconds",
    "Time since a page's previous sync started, when its next one starts, by the page's class "
    "(suspicious, active, quiet: reconciler.schedule).",
    ["page_class"],
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 5400, 7200, 14400, float("inf")),
)
PARALLEL_PAGES = Gauge(
    "convsync_reconciler_parallel_pages",
    "Runs this replica may have at once: its share of the app's Graph call budget (reconciler.schedule).",
)
QUIET_BOUND = Gauge(
    "convsync_schedule_quiet_bound_seconds",
    "How long a quiet page may wait between two syncs now: the base interval while the app's budget looks at "
    "every page once an interval, longer as pages outgrow it, at most CONVSYNC_RECONCILE_MAX_INTERVAL_S.",
)
REPLICAS = Gauge("convsync_reconciler_replicas", "Live reconciler replicas sharing the app's call budget.")
APP_USAGE = Gauge("convsync_graph_app_usage_percent", "Meta's newest report of the app's usage, from any replica.")


def exposition() -> bytes:
    """These metrics in Prometheus text format (for a `/metrics` that serves another registry too)."""
    return generate_latest(REGISTRY)
