-- A profile Meta refused ($4: code 551 or 100, the person blocked the page): not asked again until
-- the refresh period passed. What was known of the person is kept.
INSERT INTO contacts AS k (page_id, user_id, platform, refused_code, refused_at, source)
VALUES ($1, $2, $3, $4, now(), 'profile')
ON CONFLICT (page_id, user_id) DO UPDATE SET
    refused_code = EXCLUDED.refused_code,
    refused_at = EXCLUDED.refused_at,
    updated_at = now()
