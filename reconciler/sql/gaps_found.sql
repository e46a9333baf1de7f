-- A page's run found messages webhooks had missed (counted once the consumers applied it): sync the page
-- again within $2 seconds, ahead of the other due pages, and forget its quiet streak.
UPDATE pages SET next_sync_at = LEAST(COALESCE(next_sync_at, now()), now() + make_interval(secs => $2)),
                 sync_priority = 1, quiet_runs = 0, gaps_found_at = now()
WHERE page_id = $1 AND status = 'active'
