-- A replay's end: its final counts, succeeded or failed (with why).
UPDATE replays SET status = $2, scanned = $3, matched = $4, produced = $5, skipped = $6,
                   skipped_reasons = $7::jsonb, to_scan = $8, error = $9, finished_at = now()
WHERE replay_id = $1
