-- Add what one batch wrote for each sync run; a run created elsewhere (no row here) is skipped.
UPDATE sync_runs AS s
SET inserted = s.inserted + r.inserted, updated = s.updated + r.updated,
    gap_messages = s.gap_messages + r.gap_messages
FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS r(run_id, inserted, updated, gap_messages)
WHERE s.run_id = r.run_id AND (r.inserted, r.updated, r.gap_messages) <> (0, 0, 0)
