-- Instagram per-message reads, kept whether or not the read message has arrived yet.
INSERT INTO message_reads AS x (mid, reader_id, page_id, user_id, read_at)
SELECT r.mid, r.reader_id, r.page_id, r.user_id, to_timestamp(r.read_ms / 1000.0)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
     AS r(mid, reader_id, page_id, user_id, read_ms)
ON CONFLICT (page_id, mid, reader_id) DO UPDATE SET read_at = EXCLUDED.read_at
WHERE EXCLUDED.read_at < x.read_at
RETURNING mid, (xmax = 0) AS inserted
