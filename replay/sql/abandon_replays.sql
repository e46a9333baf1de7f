-- Replays left running by a process that stopped before they finished (`serve` on shutdown, for its own).
UPDATE replays SET status = 'failed', finished_at = now(), error = 'interrupted: the process stopped'
WHERE replay_id = ANY($1::uuid[]) AND status = 'running'
