-- The newest $3 runs, of page $1 and status $2 (NULL: any), newest first.
SELECT run_id, page_id, mode, trigger, status, started_at, finished_at, conversations, messages, inserted,
       updated, gap_messages, graph_calls, throttled, error, created_at
FROM sync_runs
WHERE ($1::text IS NULL OR page_id = $1) AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC
LIMIT $3
