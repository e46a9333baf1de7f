-- What `convsync dev`'s panel counts: stored messages and conversations, and gaps the syncs filled.
SELECT (SELECT count(*) FROM messages) AS messages,
       (SELECT count(*) FROM conversations) AS conversations,
       (SELECT coalesce(sum(gap_messages), 0) FROM sync_runs) AS gaps
