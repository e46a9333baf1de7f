SELECT status FROM pages WHERE page_id = $1
