-- A sync's reading of a conversation holds every message Meta still has in the span
-- [from_ms, to_ms) of that thread (consumers/mapping.py graph_span). A stored message of the thread
-- whose time lies inside the span and that the reading lacks was unsent without a webhook: it is
-- marked deleted, its text kept, and deleted_source says the Graph API is how we know. A message
-- whose time is unknown (its created_at is the arrival time) is never judged.
UPDATE messages AS m
SET is_deleted = true, deleted_source = 'graph', updated_at = now()
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::jsonb[])
     AS r(page_id, user_id, from_ms, to_ms, mids)
WHERE m.page_id = r.page_id AND m.user_id = r.user_id
  AND m.created_at >= to_timestamp(r.from_ms / 1000.0) AND m.created_at < to_timestamp(r.to_ms / 1000.0)
  AND NOT m.is_deleted AND NOT m.time_unknown
  AND NOT (r.mids ? m.mid)
RETURNING m.mid, m.page_id, m.user_id
