-- Logout: the session ($1: its id's SHA-256) is gone.
DELETE FROM console_sessions WHERE session_hash = $1
