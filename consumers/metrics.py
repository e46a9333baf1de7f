"""Prometheus metrics of the writer (the process's default registry; `convsync consume` serves them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("convsync_consumer_records", "Event records consumed, by outcome", ["outcome"])
ROWS = Counter("convsync_consumer_rows", "Rows written, by table and operation", ["table", "op"])
BATCHES = Counter("convsync_consumer_batches", "Batches committed")
DB_RETRIES = Counter("convsync_consumer_db_retries", "Batch writes retried after a database error")
BATCH_SECONDS = Histogram("convsync_consumer_batch_seconds", "Decode + write + commit time of one batch",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LAG = Gauge("convsync_consumer_lag_records",
            "High watermark minus position per partition (approximate: Tansu undercounts high watermarks)",
            ["partition"])
