-- An Instagram professional account reached through Facebook Login is two Graph nodes (DESIGN §2):
-- webhooks and thread keys use the account id (`page_id`), while its conversations are listed, and
-- its subscription is kept, at the linked Facebook Page (`graph_page_id`). For Messenger the two are
-- equal. Rows registered before this column keep one id for both, as they were synced until now.
ALTER TABLE pages ADD COLUMN graph_page_id text;
UPDATE pages SET graph_page_id = page_id;
ALTER TABLE pages ALTER COLUMN graph_page_id SET NOT NULL;
