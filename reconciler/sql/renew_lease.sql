-- Extend a lease by $4 seconds, only while ($1 page, $2 owner, $3 epoch) still holds it.
UPDATE pages SET lease_expires_at = now() + make_interval(secs => $4)
WHERE page_id = $1 AND lease_owner = $2 AND lease_epoch = $3
