-- First sight creates the conversation; times and watermarks only grow; the strictly newer Graph
-- snapshot replaces the snapshot fields (its folder also on a tie: the later reading says where it is
-- now); the newest handover by Meta's time sets the thread owner (ties: the larger app id, so arrival
-- order cannot matter). Rows that would not change are not touched.
INSERT INTO conversations AS c (
    page_id, user_id, platform, updated_at, delivered_watermark, read_watermark, thread_owner_at,
    thread_owner_app_id, snapshot_at, graph_id, snapshot_message_count, snapshot_unread_count, snapshot_snippet,
    participants, can_reply, link, folder)
SELECT r.page_id, r.user_id, r.platform, to_timestamp(r.updated_ms / 1000.0),
       to_timestamp(r.delivered_ms / 1000.0), to_timestamp(r.read_ms / 1000.0), to_timestamp(r.owner_ms / 1000.0),
       r.owner_app_id, to_timestamp(r.snapshot_ms / 1000.0), r.graph_id, r.message_count, r.unread_count, r.snippet,
       r.participants::jsonb, r.can_reply, r.link, r.folder
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
            $8::text[], $9::bigint[], $10::text[], $11::int[], $12::int[], $13::text[], $14::text[], $15::bool[],
            $16::text[], $17::text[])
     AS r(page_id, user_id, platform, updated_ms, delivered_ms, read_ms, owner_ms, owner_app_id, snapshot_ms,
          graph_id, message_count, unread_count, snippet, participants, can_reply, link, folder)
ON CONFLICT (page_id, user_id) DO UPDATE SET
    updated_at = GREATEST(c.updated_at, EXCLUDED.updated_at),
    delivered_watermark = GREATEST(c.delivered_watermark, EXCLUDED.delivered_watermark),
    read_watermark = GREATEST(c.read_watermark, EXCLUDED.read_watermark),
    snapshot_at = GREATEST(c.snapshot_at, EXCLUDED.snapshot_at),
    graph_id = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.graph_id ELSE c.graph_id END,
    snapshot_message_count = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.snapshot_message_count ELSE c.snapshot_message_count END,
    snapshot_unread_count = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.snapshot_unread_count ELSE c.snapshot_unread_count END,
    snapshot_snippet = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.snapshot_snippet ELSE c.snapshot_snippet END,
    participants = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.participants ELSE c.participants END,
    can_reply = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.can_reply ELSE c.can_reply END,
    link = CASE WHEN EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
                    THEN EXCLUDED.link ELSE c.link END,
    folder = CASE WHEN EXCLUDED.folder IS NOT NULL AND EXCLUDED.snapshot_at >= COALESCE(c.snapshot_at, '-infinity')
                  THEN EXCLUDED.folder ELSE c.folder END,
    thread_owner_at = CASE WHEN (EXCLUDED.thread_owner_at, COALESCE(EXCLUDED.thread_owner_app_id, ''))
                                > (COALESCE(c.thread_owner_at, '-infinity'), COALESCE(c.thread_owner_app_id, ''))
                           THEN EXCLUDED.thread_owner_at ELSE c.thread_owner_at END,
    thread_owner_app_id = CASE WHEN (EXCLUDED.thread_owner_at, COALESCE(EXCLUDED.thread_owner_app_id, ''))
                                    > (COALESCE(c.thread_owner_at, '-infinity'), COALESCE(c.thread_owner_app_id, ''))
                               THEN EXCLUDED.thread_owner_app_id ELSE c.thread_owner_app_id END
WHERE EXCLUDED.updated_at > COALESCE(c.updated_at, '-infinity')
   OR EXCLUDED.delivered_watermark > COALESCE(c.delivered_watermark, '-infinity')
   OR EXCLUDED.read_watermark > COALESCE(c.read_watermark, '-infinity')
   OR EXCLUDED.snapshot_at > COALESCE(c.snapshot_at, '-infinity')
   OR (EXCLUDED.folder IS DISTINCT FROM c.folder AND EXCLUDED.folder IS NOT NULL
       AND EXCLUDED.snapshot_at >= COALESCE(c.snapshot_at, '-infinity'))
   OR (EXCLUDED.thread_owner_at, COALESCE(EXCLUDED.thread_owner_app_id, ''))
      > (COALESCE(c.thread_owner_at, '-infinity'), COALESCE(c.thread_owner_app_id, ''))
RETURNING page_id, user_id, (xmax = 0) AS inserted
