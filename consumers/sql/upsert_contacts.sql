-- Who each conversation is with, from a Graph reading's participants: Messenger's name, Instagram's
-- username. A reading that names nobody changes nothing; the profile pass's columns are left alone
-- (reconciler/sql/record_profile.sql owns them), and the source stays 'profile' once one was read.
INSERT INTO contacts AS k (page_id, user_id, platform, name, username, source)
SELECT r.page_id, r.user_id, r.platform, r.name, r.username, 'participants'
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
     AS r(page_id, user_id, platform, name, username)
ON CONFLICT (page_id, user_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, k.name),
    username = COALESCE(EXCLUDED.username, k.username),
    updated_at = now()
WHERE (COALESCE(EXCLUDED.name, k.name), COALESCE(EXCLUDED.username, k.username))
      IS DISTINCT FROM (k.name, k.username)
RETURNING page_id, user_id, (xmax = 0) AS inserted
