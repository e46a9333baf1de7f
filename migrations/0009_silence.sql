-- Silence: what the last sync of a page saw on Meta's side (`graph_activity_at`, the newest
-- conversation update it listed) against the newest message a webhook delivered (`last_webhook_at`).
-- A page whose Graph activity is newer than its webhooks by more than CONVSYNC_SILENCE_THRESHOLD_S is
-- `silent`: Meta stopped delivering in a way `subscribed_apps` may not show.
ALTER TABLE pages
    ADD COLUMN graph_activity_at timestamptz,
    ADD COLUMN last_webhook_at timestamptz,
    ADD COLUMN webhook_silence_s double precision,
    ADD COLUMN silent boolean NOT NULL DEFAULT false;
-- the newest webhook-delivered message of a page, found without reading the page's other messages
CREATE INDEX messages_webhook_recent_idx ON messages (page_id, created_at DESC) WHERE source = 'webhook';
