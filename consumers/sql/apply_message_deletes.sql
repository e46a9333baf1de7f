-- Mark the given messages deleted when a delete is known; the flag sticks and the text stays.
-- A webhook's word replaces a deletion only inferred from the Graph API (deleted_source).
UPDATE messages AS m
SET is_deleted = true, deleted_source = 'webhook', updated_at = now()
FROM unnest($1::text[], $2::text[]) AS k(page_id, mid)
JOIN message_deletes AS d ON d.page_id = k.page_id AND d.mid = k.mid
WHERE m.page_id = k.page_id AND m.mid = k.mid
  AND (NOT m.is_deleted OR m.deleted_source IS DISTINCT FROM 'webhook')
RETURNING m.mid, m.page_id, m.user_id
