-- One runner at a time, across processes (a session advisory lock, released by unlock.sql).
SELECT pg_advisory_lock($1)
