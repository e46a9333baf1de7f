UPDATE sync_runs SET conversations = $2, messages = $3, graph_calls = $4, throttled = $5
WHERE run_id = $1 AND status = 'running'
