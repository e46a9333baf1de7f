-- A webhook copy of a message leads over a graph copy (webhooks are the system of record); each field
-- is filled from the other copy when missing; an edited text, or one read from the Graph API after the
-- message was sent, is never replaced by the original; the deleted flag and
-- edit count are left to the apply_* statements. Rows that would not change are not touched.
-- A new message whose text is the Graph reading it came with (graph_text), and that no edit or delete
-- is known for (write_batch stores this batch's edits and deletes first), is inserted with that
-- reading's time (text_seen_at), as apply_graph_texts would set it a moment later: that statement then
-- leaves it alone instead of rewriting every message a sync has just inserted. Existing rows, readings
-- without text and messages with an edit or delete are left to apply_graph_texts, which runs after the
-- pending edits and deletes, as before.
INSERT INTO messages AS m (
    mid, page_id, user_id, direction, sender_id, created_at, text, attachments, reply_to_mid,
    quick_reply, app_id, metadata, source, raw, is_standby, story, time_unknown, text_seen_at)
SELECT r.mid, r.page_id, r.user_id, r.direction, r.sender_id, to_timestamp(r.created_ms / 1000.0), r.text,
       r.attachments::jsonb, r.reply_to_mid, r.quick_reply::jsonb, r.app_id, r.metadata, r.source, r.raw::jsonb,
       r.is_standby, r.story::jsonb, r.time_unknown,
       CASE WHEN r.graph_text IS NOT NULL AND r.text = r.graph_text
                 AND NOT EXISTS (SELECT 1 FROM message_edits e WHERE e.page_id = r.page_id AND e.mid = r.mid)
                 AND NOT EXISTS (SELECT 1 FROM message_deletes d WHERE d.page_id = r.page_id AND d.mid = r.mid)
            THEN to_timestamp(r.graph_observed_ms / 1000.0) END
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bool[], $16::text[],
            $17::bool[], $18::text[], $19::bigint[])
     AS r(mid, page_id, user_id, direction, sender_id, created_ms, text, attachments, reply_to_mid,
          quick_reply, app_id, metadata, source, raw, is_standby, story, time_unknown, graph_text, graph_observed_ms)
ON CONFLICT (page_id, mid) DO UPDATE SET
    direction = CASE WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook' THEN EXCLUDED.direction ELSE m.direction END,
    sender_id = CASE WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook' THEN EXCLUDED.sender_id ELSE m.sender_id END,
    -- a known time beats an arrival time standing in for one (time_unknown), whichever copy leads
    created_at = CASE WHEN m.time_unknown AND NOT EXCLUDED.time_unknown THEN EXCLUDED.created_at
                      WHEN EXCLUDED.time_unknown AND NOT m.time_unknown THEN m.created_at
                      WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook' THEN EXCLUDED.created_at ELSE m.created_at END,
    time_unknown = m.time_unknown AND EXCLUDED.time_unknown,
    is_standby = m.is_standby OR EXCLUDED.is_standby,
    story = COALESCE(m.story, EXCLUDED.story),
    source = CASE WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook' THEN 'webhook' ELSE m.source END,
    text = CASE WHEN m.edit_count > 0 THEN m.text
                WHEN m.text_seen_at >= EXCLUDED.created_at THEN m.text  -- a Graph reading newer than the original
                WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook' THEN COALESCE(EXCLUDED.text, m.text)
                ELSE COALESCE(m.text, EXCLUDED.text) END,
    attachments = CASE WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook'
                       THEN COALESCE(EXCLUDED.attachments, m.attachments) ELSE COALESCE(m.attachments, EXCLUDED.attachments) END,
    raw = CASE WHEN m.source = 'graph' AND EXCLUDED.source = 'webhook'
               THEN COALESCE(EXCLUDED.raw, m.raw) ELSE COALESCE(m.raw, EXCLUDED.raw) END,
    reply_to_mid = COALESCE(m.reply_to_mid, EXCLUDED.reply_to_mid),
    quick_reply = COALESCE(m.quick_reply, EXCLUDED.quick_reply),
    app_id = COALESCE(m.app_id, EXCLUDED.app_id),
    metadata = COALESCE(m.metadata, EXCLUDED.metadata),
    updated_at = now()
WHERE (m.source = 'graph' AND EXCLUDED.source = 'webhook')
   OR (m.text IS NULL AND EXCLUDED.text IS NOT NULL AND m.edit_count = 0)
   OR (m.attachments IS NULL AND EXCLUDED.attachments IS NOT NULL)
   OR (m.raw IS NULL AND EXCLUDED.raw IS NOT NULL)
   OR (m.reply_to_mid IS NULL AND EXCLUDED.reply_to_mid IS NOT NULL)
   OR (m.quick_reply IS NULL AND EXCLUDED.quick_reply IS NOT NULL)
   OR (m.app_id IS NULL AND EXCLUDED.app_id IS NOT NULL)
   OR (m.metadata IS NULL AND EXCLUDED.metadata IS NOT NULL)
   OR (m.time_unknown AND NOT EXCLUDED.time_unknown)
   OR (EXCLUDED.is_standby AND NOT m.is_standby)
   OR (m.story IS NULL AND EXCLUDED.story IS NOT NULL)
RETURNING page_id, mid, (xmax = 0) AS inserted
