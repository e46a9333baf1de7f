-- Lease active pages nobody holds: owner $1 for $2 seconds, the epoch bumped (it fences the watermark).
-- $3 NULL: up to $4 pages whose next sync is due, suspicious pages first (sync_priority), then the
-- longest due; a quiet page (its interval stretched) is due as well once a webhook brought it a message
-- $5 seconds or more ago, after its last sync began: it is active again. $3 a page id: that page, due
-- or not (an on-demand sync). SKIP LOCKED: replicas never wait on each other. Returns when the page's
-- previous sync started (its staleness now).
WITH chosen AS (
    SELECT page_id, last_sync_started_at AS previous_sync_at FROM pages p
    WHERE status = 'active'
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
      AND (($3::text IS NULL AND (next_sync_at IS NULL OR next_sync_at <= now()
                                  OR (quiet_runs > 0 AND EXISTS (
                                      SELECT 1 FROM messages m
                                      WHERE m.page_id = p.page_id AND m.source = 'webhook'
                                        AND m.created_at > p.last_sync_started_at
                                        AND m.created_at <= now() - make_interval(secs => $5)))))
           OR page_id = $3)
    ORDER BY sync_priority DESC, next_sync_at NULLS FIRST LIMIT $4
    FOR UPDATE SKIP LOCKED)
UPDATE pages p SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
                   lease_epoch = p.lease_epoch + 1, last_sync_started_at = now()
FROM chosen WHERE p.page_id = chosen.page_id
RETURNING p.page_id, p.graph_page_id, p.platform, p.name, p.access_token, p.last_synced_at, p.lease_owner, p.lease_epoch,
          p.sync_priority, p.quiet_runs, extract(epoch FROM now() - chosen.previous_sync_at)::float8 AS staleness_s,
          extract(epoch FROM now() - p.gaps_found_at)::float8 AS since_gaps_s
