-- How many pages there are, and how many need attention (not active, silent, subscription missing
-- or failed), for the console's pages view.
SELECT count(*) AS pages,
       count(*) FILTER (WHERE status <> 'active' OR coalesce(silent, false)
                          OR coalesce(subscription_status IN ('missing', 'failed'), false)) AS attention
FROM pages
