-- The highest edit of each message is kept, whether or not the message has arrived yet.
INSERT INTO message_edits AS e (mid, page_id, user_id, num_edit, text, edited_at)
SELECT r.mid, r.page_id, r.user_id, r.num_edit, r.text, to_timestamp(r.edited_ms / 1000.0)
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[])
     AS r(mid, page_id, user_id, num_edit, text, edited_ms)
ON CONFLICT (page_id, mid) DO UPDATE SET
    num_edit = EXCLUDED.num_edit, text = EXCLUDED.text, edited_at = EXCLUDED.edited_at
WHERE EXCLUDED.num_edit > e.num_edit
RETURNING mid, (xmax = 0) AS inserted
