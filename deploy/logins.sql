-- One login per convsync service, each a member of one role of `convsync migrate` (DESIGN §5), with
-- the server-side timeouts of that role (a group role's own settings do not reach its members).
-- Run by docker-compose.yml's `logins` step after `migrate`, as the database owner:
--   psql -v serve_password=... -v consume_password=... -v reconcile_password=... -f logins.sql
-- Safe to run again: existing logins get the current password and settings.
SELECT format('CREATE ROLE %I LOGIN IN ROLE %I', login, role)
FROM (VALUES ('convsync_serve', 'convsync_admin'), ('convsync_consume', 'convsync_writer'),
             ('convsync_reconcile', 'convsync_reconciler')) AS wanted(login, role)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = login)
\gexec

ALTER ROLE convsync_serve PASSWORD :'serve_password';
ALTER ROLE convsync_consume PASSWORD :'consume_password';
ALTER ROLE convsync_reconcile PASSWORD :'reconcile_password';

ALTER ROLE convsync_consume SET statement_timeout = '60s';
ALTER ROLE convsync_consume SET lock_timeout = '10s';
ALTER ROLE convsync_reconcile SET statement_timeout = '60s';
ALTER ROLE convsync_reconcile SET lock_timeout = '10s';
ALTER ROLE convsync_serve SET statement_timeout = '60s';
ALTER ROLE convsync_serve SET lock_timeout = '10s';
