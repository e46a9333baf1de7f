-- Mark the given messages deleted when a delete is known; the flag sticks and the text stays.
UPDATE messages AS m
SET is_deleted = true, updated_at = now()
FROM message_deletes AS d
WHERE d.mid = m.mid AND m.mid = ANY($1::text[]) AND NOT m.is_deleted
RETURNING m.mid, m.page_id, m.user_id
