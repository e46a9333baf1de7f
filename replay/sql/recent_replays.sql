-- The latest replays, newest first.
SELECT to_jsonb(r) AS replay FROM replays r ORDER BY created_at DESC LIMIT $1
