-- Pause ($2 true: an active page stops being synced; webhooks are still stored) or resume ($2 false:
-- a paused page is active again and due at once). A page that needs a new token stays as it is.
-- Returns the page's status afterwards; no row: unknown page.
UPDATE pages
SET status = CASE WHEN $2 AND status = 'active' THEN 'paused'
                  WHEN NOT $2 AND status = 'paused' THEN 'active'
                  ELSE status END,
    status_reason = CASE WHEN $2 AND status = 'active' THEN 'paused by an operator'
                         WHEN NOT $2 AND status = 'paused' THEN NULL
                         ELSE status_reason END,
    next_sync_at = CASE WHEN NOT $2 AND status = 'paused' THEN now() ELSE next_sync_at END,
    updated_at = now()
WHERE page_id = $1
RETURNING status
