-- The newest message a webhook delivered for a page, and when the page was connected.
SELECT (SELECT max(created_at) FROM messages WHERE page_id = $1 AND source = 'webhook') AS last_webhook_at,
       created_at AS connected_at
FROM pages WHERE page_id = $1
