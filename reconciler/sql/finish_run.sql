UPDATE sync_runs SET status = $2, finished_at = now(), conversations = $3, messages = $4,
       graph_calls = $5, throttled = $6, watermark_to = $7, error = $8
WHERE run_id = $1
