-- A graph copy shows a message's text as Meta had it when the reconciler read it (observed_ms).
-- A reading newer than the text we hold (original or edit) wins: that repairs a lost edit webhook.
-- Only newer readings count, and text_seen_at remembers the newest, so the order of arrival of
-- snapshots and edits never changes the outcome. A deleted message keeps its last known text.
UPDATE messages AS m
SET text = CASE WHEN g.text IS NOT NULL AND NOT m.is_deleted
                     AND to_timestamp(g.observed_ms / 1000.0) > COALESCE(m.edited_at, m.created_at)
                THEN g.text ELSE m.text END,
    text_seen_at = to_timestamp(g.observed_ms / 1000.0),
    updated_at = now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS g(page_id, mid, text, observed_ms)
WHERE m.page_id = g.page_id AND m.mid = g.mid
  AND (m.text_seen_at IS NULL OR to_timestamp(g.observed_ms / 1000.0) > m.text_seen_at)
RETURNING m.mid, m.page_id, m.user_id
