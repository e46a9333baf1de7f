-- What an inbox needs to know of each conversation: when the person last wrote, when the page last
-- answered, and when the 24-hour window to answer them closes. Derived from stored messages of
-- either source (webhook or Graph) by consumers/sql/refresh_conversations.sql; only move forward.
ALTER TABLE conversations
    ADD COLUMN last_inbound_at      timestamptz,
    ADD COLUMN last_outbound_at     timestamptz,
    ADD COLUMN reply_window_ends_at timestamptz;

UPDATE conversations c
SET last_inbound_at = m.last_inbound_at, last_outbound_at = m.last_outbound_at,
    reply_window_ends_at = m.last_inbound_at + interval '24 hours'
FROM (SELECT page_id, user_id,
             max(created_at) FILTER (WHERE direction = 'inbound') AS last_inbound_at,
             max(created_at) FILTER (WHERE direction = 'outbound') AS last_outbound_at
      FROM messages GROUP BY page_id, user_id) m
WHERE m.page_id = c.page_id AND m.user_id = c.user_id;

-- "whose reply window is open now": the inbox's most frequent question
CREATE INDEX conversations_reply_window_idx ON conversations (page_id, reply_window_ends_at DESC NULLS LAST);
