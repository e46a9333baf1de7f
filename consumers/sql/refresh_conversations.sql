-- Recompute what a conversation derives from its stored messages and newest snapshot: the newest
-- message time and text, message and unread counts, the read watermark implied by Instagram
-- per-message reads, the last inbound and outbound message times and the reply window (24 hours
-- after the last inbound message). Derived from stored state only, so arrival order cannot change the outcome.
-- A message whose time is unknown (time_unknown: its created_at is the arrival time) counts, but
-- moves no time and is not the snippet: arrival is not when it was sent.
WITH keys AS (
    SELECT DISTINCT page_id, user_id FROM unnest($1::text[], $2::text[]) AS k(page_id, user_id)
), derived AS (
    SELECT c.page_id, c.user_id,
           GREATEST(c.last_message_at, s.last_at) AS last_message_at,
           CASE WHEN n.created_at IS NOT NULL AND n.created_at >= COALESCE(c.snapshot_at, '-infinity')
                THEN n.text ELSE c.snapshot_snippet END AS snippet,
           CASE WHEN c.snapshot_at IS NULL AND s.total = 0 THEN c.message_count
                ELSE GREATEST(s.total, COALESCE(c.snapshot_message_count, 0) + s.after_snapshot) END AS message_count,
           CASE WHEN s.last_outbound_at > COALESCE(c.snapshot_at, '-infinity') THEN i.inbound_after_outbound
                WHEN c.snapshot_at IS NULL AND s.total = 0 THEN c.unread_count
                ELSE COALESCE(c.snapshot_unread_count, 0) + s.inbound_after_snapshot END AS unread_count,
           GREATEST(c.read_watermark, rd.read_at) AS read_watermark,
           GREATEST(c.last_inbound_at, s.last_inbound_at) AS last_inbound_at,
           GREATEST(c.last_outbound_at, s.last_outbound_at) AS last_outbound_at
    FROM keys k
    JOIN conversations c ON c.page_id = k.page_id AND c.user_id = k.user_id
    CROSS JOIN LATERAL (
        SELECT max(m.created_at) FILTER (WHERE NOT m.time_unknown) AS last_at,
               count(*) AS total,
               count(*) FILTER (WHERE m.created_at > COALESCE(c.snapshot_at, '-infinity')) AS after_snapshot,
               max(m.created_at) FILTER (WHERE m.direction = 'outbound' AND NOT m.time_unknown) AS last_outbound_at,
               max(m.created_at) FILTER (WHERE m.direction = 'inbound' AND NOT m.time_unknown) AS last_inbound_at,
               count(*) FILTER (WHERE m.direction = 'inbound'
                                  AND m.created_at > COALESCE(c.snapshot_at, '-infinity')) AS inbound_after_snapshot
        FROM messages m WHERE m.page_id = k.page_id AND m.user_id = k.user_id
    ) s
    CROSS JOIN LATERAL (  -- only the messages after the last outbound one (messages_thread_idx)
        SELECT count(*) AS inbound_after_outbound
        FROM messages m WHERE m.page_id = k.page_id AND m.user_id = k.user_id AND m.direction = 'inbound'
                          AND m.created_at > s.last_outbound_at
    ) i
    LEFT JOIN LATERAL (
        SELECT m.created_at, m.text FROM messages m
        WHERE m.page_id = k.page_id AND m.user_id = k.user_id AND NOT m.time_unknown
        ORDER BY m.created_at DESC, m.mid DESC LIMIT 1
    ) n ON true
    LEFT JOIN LATERAL (
        SELECT max(m.created_at) AS read_at FROM message_reads r JOIN messages m ON m.page_id = r.page_id AND m.mid = r.mid
        WHERE r.page_id = k.page_id AND r.user_id = k.user_id
    ) rd ON true
)
UPDATE conversations AS c
SET last_message_at = d.last_message_at, snippet = d.snippet, message_count = d.message_count,
    unread_count = d.unread_count, read_watermark = d.read_watermark,
    last_inbound_at = d.last_inbound_at, last_outbound_at = d.last_outbound_at,
    reply_window_ends_at = d.last_inbound_at + interval '24 hours'
FROM derived d
WHERE c.page_id = d.page_id AND c.user_id = d.user_id
  AND (c.last_message_at, c.snippet, c.message_count, c.unread_count, c.read_watermark,
       c.last_inbound_at, c.last_outbound_at)
      IS DISTINCT FROM (d.last_message_at, d.snippet, d.message_count, d.unread_count, d.read_watermark,
                        d.last_inbound_at, d.last_outbound_at)
RETURNING c.page_id, c.user_id
