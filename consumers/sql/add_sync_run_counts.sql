-- Add what one batch wrote for each sync run; a run created elsewhere (no row here) is skipped.
UPDATE sync_runs AS s
SET inserted = s.inserted + r.inserted, updated = s.updated + r.updated,
    gap_messages = s.gap_messages + r.gap_messages,
    conversations_changed = s.conversations_changed + r.conversations_changed
FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::int[])
     AS r(run_id, inserted, updated, gap_messages, conversations_changed)
WHERE s.run_id = r.run_id AND (r.inserted, r.updated, r.gap_messages, r.conversations_changed) <> (0, 0, 0, 0)
