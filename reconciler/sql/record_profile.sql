-- A profile Meta answered (reconciler/profiles.py): the profile's columns, a refusal cleared. A name
-- or username the answer lacks keeps the one participants gave.
INSERT INTO contacts AS k (page_id, user_id, platform, name, first_name, last_name, username,
                           profile_pic_url, profile_fetched_at, source)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), 'profile')
ON CONFLICT (page_id, user_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, k.name),
    first_name = EXCLUDED.first_name,
    last_name = EXCLUDED.last_name,
    username = COALESCE(EXCLUDED.username, k.username),
    profile_pic_url = EXCLUDED.profile_pic_url,
    profile_fetched_at = EXCLUDED.profile_fetched_at,
    refused_code = NULL,
    refused_at = NULL,
    source = 'profile',
    updated_at = now()
