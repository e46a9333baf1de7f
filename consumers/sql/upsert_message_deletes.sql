-- A delete is kept whether or not the message has arrived yet; the earliest report stays.
INSERT INTO message_deletes AS d (mid, page_id, user_id, deleted_at)
SELECT r.mid, r.page_id, r.user_id, to_timestamp(r.deleted_ms / 1000.0)
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS r(mid, page_id, user_id, deleted_ms)
ON CONFLICT (page_id, mid) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
WHERE EXCLUDED.deleted_at < d.deleted_at
RETURNING mid, (xmax = 0) AS inserted
