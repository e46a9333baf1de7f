-- One replay as a JSON object of every column.
SELECT to_jsonb(r) FROM replays r WHERE replay_id = $1
