-- Give a held lease back; the page's next sync is due in $4 seconds.
UPDATE pages SET lease_owner = NULL, lease_expires_at = NULL, next_sync_at = now() + make_interval(secs => $4)
WHERE page_id = $1 AND lease_owner = $2 AND lease_epoch = $3
