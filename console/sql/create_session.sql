-- A console login: $1 the session id's SHA-256, $2 its CSRF token, $3 the admin token's fingerprint,
-- $4 the client address, $5 seconds until it expires. Expired sessions go at the same time.
WITH expired AS (DELETE FROM console_sessions WHERE expires_at < now())
INSERT INTO console_sessions (session_hash, csrf_token, token_fingerprint, client, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
