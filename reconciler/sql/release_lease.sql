-- Give a held lease back; the page's next sync is due in $4 seconds with priority $5, after $6 quiet
-- runs in a row (reconciler/schedule.py decided them).
UPDATE pages SET lease_owner = NULL, lease_expires_at = NULL, next_sync_at = now() + make_interval(secs => $4),
                 sync_priority = $5, quiet_runs = $6
WHERE page_id = $1 AND lease_owner = $2 AND lease_epoch = $3
