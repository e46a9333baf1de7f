-- The reconciler's own additions (issue 7).

-- Which reconciler replica ran a sync (its lease owner), for operators reading sync_runs.
ALTER TABLE sync_runs ADD COLUMN owner text;

-- The latest runs of a status: abandoned-run cleanup and "what is running now" stay index scans.
CREATE INDEX sync_runs_open_idx ON sync_runs (page_id) WHERE status IN ('queued', 'running');
