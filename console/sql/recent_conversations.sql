-- A page's $2 most recent conversations, with who they are with and their reply window.
SELECT c.user_id, c.platform, c.snippet, c.last_message_at, c.last_inbound_at, c.reply_window_ends_at,
       c.message_count, c.folder, coalesce(k.name, nullif(concat_ws(' ', k.first_name, k.last_name), ''),
                                           k.username) AS person
FROM conversations c
LEFT JOIN contacts k ON k.page_id = c.page_id AND k.user_id = c.user_id
WHERE c.page_id = $1
ORDER BY c.last_message_at DESC NULLS LAST
LIMIT $2
