-- A run's row, running. Runs of the page still open were left by a process that died (the caller
-- holds the page's lease now): they are marked failed in the same statement.
WITH abandoned AS (
    UPDATE sync_runs SET status = 'failed', finished_at = now(),
           error = 'abandoned: the reconciler stopped before finishing'
    WHERE page_id = $2 AND status IN ('queued', 'running'))
INSERT INTO sync_runs (run_id, page_id, mode, trigger, status, started_at, watermark_from, owner)
VALUES ($1, $2, $3, $4, 'running', now(), $5, $6)
