-- Each page's webhook subscription as the reconciler last found it (`GET /{page}/subscribed_apps`):
-- ok, missing (the app or some fields were not subscribed and it was not repaired), fixed (it was
-- repaired then), failed (the check or the repair failed), unknown (never checked).
ALTER TABLE pages
    ADD COLUMN subscription_status text NOT NULL DEFAULT 'unknown'
        CHECK (subscription_status IN ('ok', 'missing', 'fixed', 'failed', 'unknown')),
    ADD COLUMN subscription_checked_at timestamptz,
    ADD COLUMN subscribed_fields text[],
    ADD COLUMN subscription_error text;
CREATE INDEX pages_subscription_due ON pages (subscription_checked_at NULLS FIRST) WHERE status = 'active';
