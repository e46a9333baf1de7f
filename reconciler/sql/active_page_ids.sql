SELECT page_id FROM pages WHERE status = 'active' ORDER BY page_id
