-- The newest $2 runs, of page $1 (NULL: of every page), each a JSON object of every column.
SELECT to_jsonb(r) AS run FROM sync_runs r WHERE $1::text IS NULL OR page_id = $1
ORDER BY created_at DESC LIMIT $2
