-- Unsends that send no webhook (Instagram on the web): a sync that reads a conversation and no longer
-- finds a stored message inside the span its answer covers marks it deleted (consumers/sql/apply_graph_unsends.sql).
--   messages.deleted_source   how the unsend was learnt: 'webhook' (Meta said so) or 'graph' (it left
--                             the Graph API); NULL while the message is not deleted
ALTER TABLE messages
    ADD COLUMN deleted_source text CHECK (deleted_source IN ('webhook', 'graph'));

UPDATE messages SET deleted_source = 'webhook' WHERE is_deleted;
