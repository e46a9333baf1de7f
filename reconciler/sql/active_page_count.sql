-- How many pages are active: how far the schedule may stretch quiet pages (reconciler.schedule).
SELECT count(*) FROM pages WHERE status = 'active'
