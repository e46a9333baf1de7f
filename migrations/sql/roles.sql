-- The roles of DESIGN §5 and what each may touch, applied by `convsync migrate` after the migrations,
-- every time (idempotent): this file is the whole truth about privileges, so a privilege removed here
-- is removed from every database on its next migrate. NOLOGIN groups: a deployment grants them to its
-- login users (`GRANT convsync_writer TO writer_login`); none of them owns a table or may run DDL.
--
--   convsync_writer      the consumers: conversation data; sync_runs' applied counts; no pages at all
--   convsync_reconciler  pages (tokens included) and sync_runs; reads the data; writes contacts (profiles)
--   convsync_admin       the admin API, the console and `convsync replay`: the reconciler's rights (it
--                        starts syncs) plus registering and removing pages, and replays
--   convsync_reader      analysts: SELECT on the data and on pages without access_token
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['convsync_writer', 'convsync_reconciler', 'convsync_admin', 'convsync_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database of this cluster created it at the same moment
            END;
        END IF;
    END LOOP;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public
    FROM convsync_writer, convsync_reconciler, convsync_admin, convsync_reader;
GRANT USAGE ON SCHEMA public TO convsync_writer, convsync_reconciler, convsync_admin, convsync_reader;
-- every process checks at start that the migrations it needs were applied
GRANT SELECT ON schema_migrations TO convsync_writer, convsync_reconciler, convsync_admin, convsync_reader;

-- the conversation data the consumers write
GRANT SELECT, INSERT, UPDATE, DELETE
    ON conversations, messages, reactions, conversation_events, contacts,
       message_edits, message_deletes, message_reads
    TO convsync_writer;
GRANT SELECT ON sync_runs TO convsync_writer;
GRANT UPDATE (inserted, updated, gap_messages, conversations_changed) ON sync_runs TO convsync_writer;

-- syncs: the reconciler, and the admin API that starts them
GRANT SELECT ON pages TO convsync_reconciler, convsync_admin;
-- the reconciler moves watermarks, leases, status, silence and subscription state; never a token
GRANT UPDATE (last_synced_at, updated_at, lease_owner, lease_expires_at, lease_epoch, next_sync_at,
              status, status_reason, graph_activity_at, last_webhook_at, webhook_silence_s, silent,
              subscription_status, subscribed_fields, subscription_error, subscription_checked_at,
              sync_priority, quiet_runs, last_sync_started_at, gaps_found_at)
    ON pages TO convsync_reconciler;
-- the replicas share the app's call budget and Meta's usage reports
GRANT SELECT, INSERT, UPDATE, DELETE ON reconciler_replicas TO convsync_reconciler, convsync_admin;
GRANT UPDATE ON pages TO convsync_admin;  -- registering a page replaces its token
GRANT SELECT, INSERT, UPDATE ON sync_runs TO convsync_reconciler, convsync_admin;
GRANT SELECT ON conversations, messages, reactions, conversation_events, contacts
    TO convsync_reconciler, convsync_admin;
GRANT INSERT, UPDATE ON contacts TO convsync_reconciler, convsync_admin;
GRANT INSERT, DELETE ON pages TO convsync_admin;
GRANT SELECT, INSERT, UPDATE ON replays TO convsync_admin;
GRANT SELECT, INSERT, DELETE ON console_sessions TO convsync_admin;  -- the console's logins

-- analysts: everything but the tokens (every column of pages except access_token, as they are now)
GRANT SELECT ON conversations, messages, reactions, conversation_events, contacts, sync_runs, replays
    TO convsync_reader;
DO $$
BEGIN
    EXECUTE format('GRANT SELECT (%s) ON pages TO convsync_reader', (
        SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'pages' AND column_name <> 'access_token'));
END
$$;
