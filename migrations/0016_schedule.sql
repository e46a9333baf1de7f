-- The timer's schedule (issue 21, reconciler/schedule.py): each page's next sync follows what its last
-- one found. sync_priority 1: suspicious (a failed run, silence, messages webhooks had missed), leased
-- before every other due page; quiet_runs: runs in a row that found nothing new (each doubles the
-- page's interval up to its bound); last_sync_started_at: when its previous sync began (staleness).
ALTER TABLE pages
    ADD COLUMN sync_priority smallint NOT NULL DEFAULT 0,
    ADD COLUMN quiet_runs integer NOT NULL DEFAULT 0,
    ADD COLUMN last_sync_started_at timestamptz,
    ADD COLUMN gaps_found_at timestamptz;  -- when a run last found messages webhooks had missed
DROP INDEX pages_due_idx;
CREATE INDEX pages_due_idx ON pages (sync_priority DESC, next_sync_at NULLS FIRST) WHERE status = 'active';

-- The live reconciler replicas, each with the app usage Meta last reported to it (X-App-Usage): every
-- replica reads them to split the app's call budget and to pace by the newest report any of them saw.
-- App-wide, not page data: kept whole on one node under Citus.
CREATE TABLE reconciler_replicas (
    owner             text PRIMARY KEY,
    seen_at           timestamptz NOT NULL,
    app_usage_percent real,
    usage_at          timestamptz
);
