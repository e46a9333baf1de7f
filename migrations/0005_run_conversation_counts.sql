-- Conversations a sync run's records inserted or changed (re-reads that changed nothing are not
-- counted): what the replaced app's clients read as `synced`.
ALTER TABLE sync_runs ADD COLUMN conversations_changed integer NOT NULL DEFAULT 0;
