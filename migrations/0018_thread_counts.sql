-- What refresh_conversations needs to stay flat as a conversation grows: it used to recount every
-- stored message of each conversation a batch touched (bench/thread_length.py: 677 ms per batch of
-- 100 new messages once the conversations held 5,000 messages each, against 17 ms at 10).
--   conversations.message_rows  the messages stored for the conversation; the writer adds the
--                               rows each batch inserts, in the transaction that inserts them
--                               (messages are never deleted). Writers of an earlier version do
--                               not keep it: stop them before this migration. The UPDATE below
--                               recounts, and can be run again to repair a count.
--   messages_time_unknown_idx   the few messages whose time is unknown, by conversation: an
--                               unanswered conversation's unread count is its messages less its
--                               outbound ones, and without a known reply time those are all here
ALTER TABLE conversations ADD COLUMN message_rows bigint NOT NULL DEFAULT 0;
UPDATE conversations c SET message_rows = m.n
FROM (SELECT page_id, user_id, count(*) AS n FROM messages GROUP BY page_id, user_id) m
WHERE c.page_id = m.page_id AND c.user_id = m.user_id;
CREATE INDEX messages_time_unknown_idx ON messages (page_id, user_id) WHERE time_unknown;
