-- How far the timer schedule is behind (after this replica's tick leased what it could): active pages
-- whose next sync is due and that no replica is syncing, and how late the most overdue one is.
SELECT count(*) AS behind,
       COALESCE(max(extract(epoch FROM now() - COALESCE(next_sync_at, created_at))), 0)::float8 AS latest_s
FROM pages
WHERE status = 'active'
  AND (next_sync_at IS NULL OR next_sync_at <= now())
  AND (lease_expires_at IS NULL OR lease_expires_at < now())
