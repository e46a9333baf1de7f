-- Which pages need an operator's attention, said once: not active, silent (Meta stopped delivering),
-- or its app subscription missing or failed. The console lists these first and counts them
-- (console/sql/pages_overview.sql, pages_attention.sql); the rule was written in both.
ALTER TABLE pages ADD COLUMN needs_attention boolean GENERATED ALWAYS AS (
    status <> 'active' OR silent OR coalesce(subscription_status IN ('missing', 'failed'), false)
) STORED;
