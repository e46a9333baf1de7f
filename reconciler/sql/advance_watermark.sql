-- Move last_synced_at forward (never back) to $4, only while the lease ($1, $2, $3) is still held.
UPDATE pages SET last_synced_at = GREATEST(last_synced_at, $4), updated_at = now()
WHERE page_id = $1 AND lease_owner = $2 AND lease_epoch = $3
