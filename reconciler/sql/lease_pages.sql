-- Lease active pages nobody holds: owner $1 for $2 seconds, the epoch bumped (it fences the watermark).
-- $3 NULL: up to $4 pages whose next sync is due, longest due first; $3 a page id: that page, due or not
-- (an on-demand sync). SKIP LOCKED: replicas never wait on each other.
WITH chosen AS (
    SELECT page_id FROM pages
    WHERE status = 'active'
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
      AND (($3::text IS NULL AND (next_sync_at IS NULL OR next_sync_at <= now())) OR page_id = $3)
    ORDER BY next_sync_at NULLS FIRST LIMIT $4
    FOR UPDATE SKIP LOCKED)
UPDATE pages p SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
                   lease_epoch = p.lease_epoch + 1
FROM chosen WHERE p.page_id = chosen.page_id
RETURNING p.page_id, p.graph_page_id, p.platform, p.name, p.access_token, p.last_synced_at, p.lease_owner, p.lease_epoch
