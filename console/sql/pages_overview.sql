-- The console's pages view: each page (never its token) with its latest run, the messages its
-- incremental syncs found that webhooks had missed (last 24 hours, last 7 days; what a full sync reads
-- back is mostly history from before the page was connected) and its reply windows open now.
-- $1 NULL: every page, otherwise that one; $2 NULL, or text the page's name or id contains (any
-- case); $3 rows at most, from row $4. Pages that need attention (pages.needs_attention: not active,
-- silent, subscription missing or failed) come first, then by name. `matching` is how many pages the
-- filter matched.
-- The page's window is chosen from `pages` alone, so the per-page lookups run for the rows shown only.
WITH shown AS (
    SELECT p.*, p.needs_attention AS attention, count(*) OVER () AS matching
    FROM pages p
    WHERE ($1::text IS NULL OR p.page_id = $1)
      AND ($2::text IS NULL OR strpos(lower(coalesce(p.name, '') || ' ' || p.page_id), lower($2)) > 0)
    ORDER BY attention DESC, p.name, p.page_id
    LIMIT $3 OFFSET $4
)
SELECT p.page_id, p.name, p.platform, p.status, p.status_reason, p.last_synced_at, p.next_sync_at,
       p.subscription_status, p.subscription_checked_at, p.subscription_error,
       p.silent, p.webhook_silence_s, p.last_webhook_at, p.attention, p.matching,
       r.run_id AS last_run_id, r.mode AS last_run_mode, r.status AS last_run_status,
       r.started_at AS last_run_started_at, r.finished_at AS last_run_finished_at, r.error AS last_run_error,
       coalesce(g.day, 0) AS gaps_24h, coalesce(g.week, 0) AS gaps_7d,
       (SELECT count(*) FROM conversations c
         WHERE c.page_id = p.page_id AND c.reply_window_ends_at > now()) AS open_windows
FROM shown p
LEFT JOIN LATERAL (SELECT run_id, mode, status, started_at, finished_at, error FROM sync_runs
                   WHERE page_id = p.page_id ORDER BY created_at DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT sum(gap_messages) FILTER (WHERE created_at > now() - interval '24 hours') AS day,
                          sum(gap_messages) AS week
                   FROM sync_runs WHERE page_id = p.page_id AND mode = 'incremental'
                     AND created_at > now() - interval '7 days') g ON true
ORDER BY p.attention DESC, p.name, p.page_id
