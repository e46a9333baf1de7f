-- One page's encrypted token, for a check asked for now (any status: a dead token is then reported).
SELECT page_id, graph_page_id, access_token FROM pages WHERE page_id = $1
