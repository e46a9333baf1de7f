-- Mark the given messages deleted when a delete is known; the flag sticks and the text stays.
-- A webhook's word replaces a deletion only inferred from the Graph API (deleted_source).
UPDATE messages AS m
SET is_deleted = true, deleted_source = 'webhook', updated_at = now()
FROM message_deletes AS d
WHERE d.mid = m.mid AND m.mid = ANY($1::text[])
  AND (NOT m.is_deleted OR m.deleted_source IS DISTINCT FROM 'webhook')
RETURNING m.mid, m.page_id, m.user_id
