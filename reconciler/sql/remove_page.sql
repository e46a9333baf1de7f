DELETE FROM pages WHERE page_id = $1 RETURNING true
