-- Each page with its latest run, for `convsync dev`'s panel.
SELECT p.page_id, p.platform, p.status, p.last_synced_at,
       (SELECT r.mode || ' ' || r.status FROM sync_runs r WHERE r.page_id = p.page_id
        ORDER BY r.created_at DESC LIMIT 1) AS last_run
FROM pages p ORDER BY p.page_id
