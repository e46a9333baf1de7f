-- Postbacks, referrals, optins, handovers, policy and account-linking events: each stored once.
INSERT INTO conversation_events (event_key, page_id, user_id, kind, occurred_at, payload, referral_source,
                                 referral_ref, time_unknown)
SELECT r.event_key, r.page_id, r.user_id, r.kind, to_timestamp(r.occurred_ms / 1000.0), r.payload::jsonb,
       r.referral_source, r.referral_ref, r.time_unknown
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
            $9::bool[])
     AS r(event_key, page_id, user_id, kind, occurred_ms, payload, referral_source, referral_ref, time_unknown)
ON CONFLICT (page_id, event_key) DO NOTHING
RETURNING event_key, true AS inserted
