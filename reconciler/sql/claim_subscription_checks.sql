-- Claim up to $2 active pages whose subscription check is due (never checked, or last checked $1
-- seconds ago or more), longest waiting first. The claim moves `subscription_checked_at` to now, so
-- every other reconciler skips these pages until the next interval: one check per page per interval.
WITH chosen AS (
    SELECT page_id FROM pages
    WHERE status = 'active'
      AND (subscription_checked_at IS NULL OR subscription_checked_at <= now() - make_interval(secs => $1))
    ORDER BY subscription_checked_at NULLS FIRST LIMIT $2
    FOR UPDATE SKIP LOCKED)
UPDATE pages p SET subscription_checked_at = now()
FROM chosen WHERE p.page_id = chosen.page_id
RETURNING p.page_id, p.graph_page_id, p.access_token
