-- Recompute what a conversation derives from its stored messages and newest snapshot: the newest
-- message time and text, message and unread counts, the read watermark implied by Instagram
-- per-message reads, the last inbound and outbound message times and the reply window (24 hours
-- after the last inbound message). Derived from stored state only, so arrival order cannot change the outcome.
-- A message whose time is unknown (time_unknown: its created_at is the arrival time) counts, but
-- moves no time and is not the snippet: arrival is not when it was sent.
--
-- $1, $2: the conversations to refresh (only these). $3, $4, $5: the messages this batch inserted
-- or changed (upsert_messages' answer, `inserted` true for a new row) and the messages this batch's
-- reads name, by (page_id, mid), each once. Answers the conversations it updated, and whether what
-- they show changed (`changed` false: only the stored total moved).
--
-- The cost does not grow with a conversation's length (tests/consumers/test_refresh_cost.py):
-- - the message total is the stored count (message_rows) plus the rows inserted now;
-- - the newest times only move forward (GREATEST with the stored ones): the messages and reads
--   of this batch are the only ones that can move them, so only they are read;
-- - the counts after the snapshot and after the last outbound message read only those messages
--   (messages_thread_idx), and the last outbound message is looked up only when there is one;
-- - without a snapshot or a reply, the unread count is every message but the outbound ones, whose
--   times are then all unknown (messages_time_unknown_idx).
WITH touched AS (  -- one row per conversation, per changed message and per read message
    SELECT k.page_id, k.user_id, true AS asked, 0 AS added, NULL::timestamptz AS outbound_at,
           NULL::timestamptz AS inbound_at, NULL::timestamptz AS read_at
    FROM unnest($1::text[], $2::text[]) AS k(page_id, user_id)
    UNION ALL
    SELECT m.page_id, m.user_id, false, t.inserted::int,
           CASE WHEN m.direction = 'outbound' AND NOT m.time_unknown THEN m.created_at END,
           CASE WHEN m.direction = 'inbound' AND NOT m.time_unknown THEN m.created_at END, NULL
    FROM unnest($3::text[], $4::text[], $5::bool[]) AS t(page_id, mid, inserted)
    JOIN messages m ON m.page_id = t.page_id AND m.mid = t.mid
    UNION ALL
    SELECT r.page_id, r.user_id, false, 0, NULL, NULL, m.created_at
    FROM unnest($3::text[], $4::text[]) AS t(page_id, mid)
    JOIN message_reads r ON r.page_id = t.page_id AND r.mid = t.mid
    JOIN messages m ON m.page_id = r.page_id AND m.mid = r.mid
), keys AS (  -- grouped, not joined: the planner cannot know how many rows each part gives
    SELECT page_id, user_id, sum(added) AS added, max(outbound_at) AS outbound_at,
           max(inbound_at) AS inbound_at, max(read_at) AS read_at
    FROM touched GROUP BY page_id, user_id
    HAVING bool_or(asked)  -- only the conversations asked for, which upsert_conversations has locked
), counted AS (
    SELECT c.page_id, c.user_id, c.snapshot_at, c.snapshot_message_count, c.snapshot_unread_count,
           c.snapshot_snippet, c.message_count, c.unread_count, c.last_message_at, c.snippet,
           c.read_watermark AS was_read_watermark, c.last_inbound_at AS was_last_inbound_at,
           c.last_outbound_at AS was_last_outbound_at,
           k.added, c.message_rows + k.added AS total,
           GREATEST(c.last_inbound_at, k.inbound_at) AS last_inbound_at,
           GREATEST(c.last_outbound_at, k.outbound_at) AS last_outbound_at,
           GREATEST(c.read_watermark, k.read_at) AS read_watermark,
           n.created_at AS newest_at, n.text AS newest_text
    FROM keys k
    JOIN conversations c ON c.page_id = k.page_id AND c.user_id = k.user_id
    LEFT JOIN LATERAL (
        SELECT m.created_at, m.text FROM messages m
        WHERE m.page_id = k.page_id AND m.user_id = k.user_id AND NOT m.time_unknown
        ORDER BY m.created_at DESC, m.mid DESC LIMIT 1
    ) n ON true
), replied AS (  -- the newest outbound message after the snapshot, as stored now (a copy may have changed direction)
    SELECT x.*,
           CASE WHEN x.last_outbound_at > COALESCE(x.snapshot_at, '-infinity') THEN (
               SELECT m.created_at FROM messages m
               WHERE m.page_id = x.page_id AND m.user_id = x.user_id AND m.direction = 'outbound'
                 AND NOT m.time_unknown AND m.created_at > COALESCE(x.snapshot_at, '-infinity')
               ORDER BY m.created_at DESC LIMIT 1) END AS replied_at
    FROM counted x
), derived AS MATERIALIZED (  -- once: the update both compares and sets these
    SELECT x.page_id, x.user_id, x.added,
           GREATEST(x.last_message_at, x.newest_at) AS last_message_at,
           CASE WHEN x.newest_at IS NOT NULL AND x.newest_at >= COALESCE(x.snapshot_at, '-infinity')
                THEN x.newest_text ELSE x.snapshot_snippet END AS snippet,
           CASE WHEN x.snapshot_at IS NULL AND x.total = 0 THEN x.message_count
                WHEN x.snapshot_at IS NULL THEN x.total
                ELSE GREATEST(x.total, COALESCE(x.snapshot_message_count, 0) + (
                    SELECT count(*) FROM messages m
                    WHERE m.page_id = x.page_id AND m.user_id = x.user_id AND m.created_at > x.snapshot_at))
           END AS message_count,
           CASE WHEN x.replied_at IS NOT NULL THEN (
                    SELECT count(*) FROM messages m
                    WHERE m.page_id = x.page_id AND m.user_id = x.user_id AND m.direction = 'inbound'
                      AND m.created_at > x.replied_at)
                WHEN x.snapshot_at IS NULL AND x.total = 0 THEN x.unread_count
                WHEN x.snapshot_at IS NULL THEN x.total - (  -- no reply with a known time: all but those without one
                    SELECT count(*) FROM messages m
                    WHERE m.page_id = x.page_id AND m.user_id = x.user_id AND m.time_unknown
                      AND m.direction = 'outbound')
                ELSE COALESCE(x.snapshot_unread_count, 0) + (
                    SELECT count(*) FROM messages m
                    WHERE m.page_id = x.page_id AND m.user_id = x.user_id AND m.direction = 'inbound'
                      AND m.created_at > x.snapshot_at)
           END AS unread_count,
           x.read_watermark, x.last_inbound_at, x.last_outbound_at,
           x.last_message_at AS was_last_message_at, x.snippet AS was_snippet, x.message_count AS was_message_count,
           x.unread_count AS was_unread_count, x.was_read_watermark, x.was_last_inbound_at, x.was_last_outbound_at
    FROM replied x
), compared AS (
    SELECT d.*,
           (d.was_last_message_at, d.was_snippet, d.was_message_count, d.was_unread_count, d.was_read_watermark,
            d.was_last_inbound_at, d.was_last_outbound_at)
           IS DISTINCT FROM (d.last_message_at, d.snippet, d.message_count, d.unread_count, d.read_watermark,
                             d.last_inbound_at, d.last_outbound_at) AS changed
    FROM derived d
)
UPDATE conversations AS c
SET message_rows = c.message_rows + d.added,  -- of the row as locked, should another writer have added
    last_message_at = d.last_message_at, snippet = d.snippet,
    message_count = d.message_count, unread_count = d.unread_count, read_watermark = d.read_watermark,
    last_inbound_at = d.last_inbound_at, last_outbound_at = d.last_outbound_at,
    reply_window_ends_at = d.last_inbound_at + interval '24 hours'
FROM compared d
WHERE c.page_id = d.page_id AND c.user_id = d.user_id AND (d.added <> 0 OR d.changed)
RETURNING c.page_id, c.user_id, d.changed  -- changed: what the conversation shows (a sync run counts it)
