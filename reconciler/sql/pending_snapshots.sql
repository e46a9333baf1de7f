-- How many of these (graph id, updated_time) snapshots of page $3 the writer has not applied yet.
SELECT count(*) FROM unnest($1::text[], $2::timestamptz[]) AS s(graph_id, updated)
WHERE NOT EXISTS (SELECT 1 FROM conversations c
                  WHERE c.page_id = $3 AND c.graph_id = s.graph_id AND c.snapshot_at >= s.updated)
