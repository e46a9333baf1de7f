-- Apply the highest known edit to the given messages when it is newer than what they show
-- (an edit that overtook its message lands here once the message arrives). The edit count always
-- follows the highest edit; its text only when the edit is newer than the last Graph reading.
UPDATE messages AS m
SET text = CASE WHEN m.text_seen_at IS NULL OR e.edited_at > m.text_seen_at THEN e.text ELSE m.text END,
    edit_count = e.num_edit, edited_at = e.edited_at, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS k(page_id, mid)
JOIN message_edits AS e ON e.page_id = k.page_id AND e.mid = k.mid
WHERE m.page_id = k.page_id AND m.mid = k.mid AND e.num_edit > m.edit_count
RETURNING m.mid, m.page_id, m.user_id
