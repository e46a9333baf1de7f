-- This replica ($1) is alive and saw app usage $2 (NULL: no new report); replicas silent for $3
-- seconds are gone. Returns the live replicas, the newest app usage any of them reported and the
-- active pages (how far quiet pages may stretch: reconciler.schedule.quiet_bound_s).
WITH beat AS (
    INSERT INTO reconciler_replicas AS r (owner, seen_at, app_usage_percent, usage_at)
    VALUES ($1, now(), $2, CASE WHEN $2::real IS NULL THEN NULL ELSE now() END)
    ON CONFLICT (owner) DO UPDATE SET seen_at = now(),
        app_usage_percent = COALESCE(EXCLUDED.app_usage_percent, r.app_usage_percent),
        usage_at = COALESCE(EXCLUDED.usage_at, r.usage_at)
), gone AS (
    DELETE FROM reconciler_replicas WHERE seen_at < now() - make_interval(secs => $3) AND owner <> $1
)
SELECT 1 + (SELECT count(*) FROM reconciler_replicas
            WHERE owner <> $1 AND seen_at >= now() - make_interval(secs => $3)) AS replicas,
       COALESCE($2::real, (SELECT app_usage_percent FROM reconciler_replicas
                           WHERE usage_at >= now() - make_interval(secs => $3 * 20) AND app_usage_percent IS NOT NULL
                           ORDER BY usage_at DESC LIMIT 1)) AS app_usage_percent,
       (SELECT count(*) FROM pages WHERE status = 'active') AS pages
