-- Add a page, or replace its name, token and Graph node (back to active, due at once); true when it was new.
INSERT INTO pages (page_id, platform, name, access_token, graph_page_id) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (page_id) DO UPDATE SET
    platform = EXCLUDED.platform, name = EXCLUDED.name, access_token = EXCLUDED.access_token,
    graph_page_id = EXCLUDED.graph_page_id,
    status = 'active', status_reason = NULL, next_sync_at = NULL, updated_at = now()
RETURNING (xmax = 0)
