-- A replay's row as it starts: what it selected, running from now.
INSERT INTO replays (replay_id, source, page_ids, since, until, dry_run, trigger, status, started_at)
VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), to_timestamp($5 / 1000.0), $6, $7, 'running', now())
