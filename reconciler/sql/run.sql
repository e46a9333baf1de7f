-- One run as a JSON object of every column (columns the writer adds appear without changes here).
SELECT to_jsonb(r) FROM sync_runs r WHERE run_id = $1
