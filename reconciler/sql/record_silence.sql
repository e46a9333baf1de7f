-- What a sync saw of a page's webhook silence.
UPDATE pages SET graph_activity_at = GREATEST(graph_activity_at, $2), last_webhook_at = $3,
                 webhook_silence_s = $4, silent = $5
WHERE page_id = $1
