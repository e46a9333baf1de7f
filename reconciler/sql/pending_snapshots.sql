-- How many of these (graph id, updated_time) snapshots the writer has not applied yet.
SELECT count(*) FROM unnest($1::text[], $2::timestamptz[]) AS s(graph_id, updated)
WHERE NOT EXISTS (SELECT 1 FROM conversations c
                  WHERE c.graph_id = s.graph_id AND c.snapshot_at >= s.updated)
