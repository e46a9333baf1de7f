-- Sessions of the operator's console (GET /admin/console), one row per login.
-- The browser holds a random session id in an HttpOnly cookie; only its SHA-256 is stored, so this
-- table gives nobody a way in. csrf_token goes into every form of the session. token_fingerprint ties
-- a session to the admin token it logged in with: rotating CONVSYNC_ADMIN_TOKEN ends every session.
-- Logging out deletes the row; expired rows are deleted at the next login.
CREATE TABLE console_sessions (
    session_hash      bytea PRIMARY KEY,
    csrf_token        text NOT NULL,
    token_fingerprint text NOT NULL,
    client            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry_idx ON console_sessions (expires_at);
