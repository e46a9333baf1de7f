-- How far a running replay got (its counts only grow).
UPDATE replays SET scanned = $2, matched = $3, produced = $4, skipped = $5, skipped_reasons = $6::jsonb,
                   to_scan = $7
WHERE replay_id = $1 AND status = 'running'
