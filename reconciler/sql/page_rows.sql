-- Pages as the admin API shows them (never the token), each with its latest run; $1 NULL: every page.
SELECT p.page_id, p.graph_page_id, p.platform, p.name, p.status, p.status_reason, p.last_synced_at,
       p.lease_owner, p.lease_expires_at, p.next_sync_at, p.created_at, p.updated_at,
       jsonb_build_object('status', p.subscription_status, 'checked_at', p.subscription_checked_at,
                          'fields', p.subscribed_fields, 'error', p.subscription_error) AS subscription,
       jsonb_build_object('silent', p.silent, 'seconds', p.webhook_silence_s, 'last_webhook_at', p.last_webhook_at,
                          'graph_activity_at', p.graph_activity_at) AS silence,
       (SELECT to_jsonb(r) FROM sync_runs r WHERE r.page_id = p.page_id
         ORDER BY r.created_at DESC LIMIT 1) AS last_run
FROM pages p
WHERE $1::text IS NULL OR p.page_id = $1
ORDER BY p.page_id
