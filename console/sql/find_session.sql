-- The live session of a cookie ($1: the session id's SHA-256) logged in with the current admin token ($2).
SELECT csrf_token, expires_at FROM console_sessions
WHERE session_hash = $1 AND token_fingerprint = $2 AND expires_at > now()
