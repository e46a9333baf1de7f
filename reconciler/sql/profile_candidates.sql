-- The page's people whose profile the reconciler reads next (reconciler/profiles.py), newest thread
-- first: nobody named them yet and their profile was never read nor refused, or it was read or
-- refused more than the refresh period ago ($3 seconds). People whose conversation the run just read
-- ($4) are left out: their participants are on their way through Kafka; so are conversations first
-- stored after the run started ($5, NULL: no bound), which the next run may read.
SELECT c.user_id
FROM conversations c
LEFT JOIN contacts k ON k.page_id = c.page_id AND k.user_id = c.user_id
WHERE c.page_id = $1
  AND c.user_id <> ALL ($4::text[])
  AND ($5::timestamptz IS NULL OR c.created_at < $5)
  AND (
        (k.user_id IS NULL
         OR (k.name IS NULL AND k.username IS NULL AND k.profile_fetched_at IS NULL AND k.refused_at IS NULL))
        OR GREATEST(k.profile_fetched_at, k.refused_at) < now() - make_interval(secs => $3)
      )
ORDER BY c.last_message_at DESC NULLS LAST, c.user_id
LIMIT $2
