-- How many pages there are, and how many need attention (pages.needs_attention: not active, silent,
-- subscription missing or failed), for the console's pages view.
SELECT count(*) AS pages, count(*) FILTER (WHERE needs_attention) AS attention
FROM pages
