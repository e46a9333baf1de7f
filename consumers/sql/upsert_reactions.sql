-- The newest react/unreact event wins (ties broken on content, so arrival order never matters).
-- An unreact keeps the row with reaction NULL, so an older react arriving later still loses.
INSERT INTO reactions AS x (page_id, mid, user_id, reaction, emoji, reacted_at)
SELECT r.page_id, r.mid, r.user_id, r.reaction, r.emoji, to_timestamp(r.reacted_ms / 1000.0)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
     AS r(page_id, mid, user_id, reaction, emoji, reacted_ms)
ON CONFLICT (page_id, mid, user_id) DO UPDATE SET
    reaction = EXCLUDED.reaction, emoji = EXCLUDED.emoji, reacted_at = EXCLUDED.reacted_at
WHERE (EXCLUDED.reacted_at, COALESCE(EXCLUDED.reaction, ''), COALESCE(EXCLUDED.emoji, ''))
    > (x.reacted_at, COALESCE(x.reaction, ''), COALESCE(x.emoji, ''))
RETURNING mid, (xmax = 0) AS inserted
