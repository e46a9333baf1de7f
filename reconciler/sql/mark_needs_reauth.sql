UPDATE pages SET status = 'needs_reauth', status_reason = $2, updated_at = now() WHERE page_id = $1
