-- Every primary and unique key leads with page_id (issue 21 §4), so each table can be distributed by
-- page_id (Citus requires the distribution column in every such key) and every write of the writer is
-- page-scoped. A mid stays unique within its page; across pages Meta's mids are unique anyway.
--
-- reactions had no page_id: it is filled from the reacted message, else from the one conversation of
-- that person (user ids are page-scoped), else from a page reacting as itself; a reaction none of
-- these places (its message never arrived and nobody it could be) keeps an empty page_id, not lost.

ALTER TABLE reactions ADD COLUMN page_id text;
UPDATE reactions r SET page_id = m.page_id FROM messages m WHERE m.mid = r.mid;
UPDATE reactions r SET page_id = c.page_id
FROM (SELECT user_id, min(page_id) AS page_id FROM conversations GROUP BY user_id HAVING count(*) = 1) c
WHERE r.page_id IS NULL AND c.user_id = r.user_id;
UPDATE reactions r SET page_id = p.page_id FROM pages p WHERE r.page_id IS NULL AND p.page_id = r.user_id;
UPDATE reactions SET page_id = '' WHERE page_id IS NULL;
ALTER TABLE reactions ALTER COLUMN page_id SET NOT NULL;

ALTER TABLE reactions DROP CONSTRAINT reactions_pkey, ADD PRIMARY KEY (page_id, mid, user_id);
ALTER TABLE messages DROP CONSTRAINT messages_pkey, ADD PRIMARY KEY (page_id, mid);
ALTER TABLE message_edits DROP CONSTRAINT message_edits_pkey, ADD PRIMARY KEY (page_id, mid);
ALTER TABLE message_deletes DROP CONSTRAINT message_deletes_pkey, ADD PRIMARY KEY (page_id, mid);
ALTER TABLE message_reads DROP CONSTRAINT message_reads_pkey, ADD PRIMARY KEY (page_id, mid, reader_id);
ALTER TABLE conversation_events DROP CONSTRAINT conversation_events_pkey, ADD PRIMARY KEY (page_id, event_key);
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_pkey, ADD PRIMARY KEY (page_id, run_id);
-- a run is still found by its id alone (GET /admin/sync-runs/{run_id}): an index, not a key
CREATE INDEX sync_runs_run_id_idx ON sync_runs (run_id);
ALTER TABLE conversations DROP CONSTRAINT conversations_graph_id_key;
ALTER TABLE conversations ADD CONSTRAINT conversations_graph_id_key UNIQUE (page_id, graph_id);
