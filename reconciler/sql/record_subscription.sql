-- What a subscription check found (or did) on a page.
UPDATE pages SET subscription_status = $2, subscribed_fields = $3, subscription_error = $4,
                 subscription_checked_at = now()
WHERE page_id = $1
