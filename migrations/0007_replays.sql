-- One row per replay (`convsync replay`, `POST /admin/replays`): what it selected, how far it got and
-- what it counted. `page_ids` holds every selected page (empty: all pages); `page_id` is the one page
-- when exactly one was selected (DESIGN §5 names it). `skipped_reasons` counts the skipped records by
-- why (a signature no current secret verifies, a dead letter that still fails and its error).
CREATE TABLE replays (
    replay_id        uuid PRIMARY KEY,
    source           text NOT NULL CHECK (source IN ('raw', 'dlq')),
    page_ids         text[] NOT NULL DEFAULT '{}',
    page_id          text GENERATED ALWAYS AS (CASE WHEN cardinality(page_ids) = 1 THEN page_ids[1] END) STORED,
    since            timestamptz,
    until            timestamptz,
    dry_run          boolean NOT NULL DEFAULT false,
    trigger          text NOT NULL DEFAULT 'cli',
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    scanned          bigint NOT NULL DEFAULT 0,
    matched          bigint NOT NULL DEFAULT 0,
    produced         bigint NOT NULL DEFAULT 0,
    skipped          bigint NOT NULL DEFAULT 0,
    skipped_reasons  jsonb NOT NULL DEFAULT '{}',
    to_scan          bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    error            text
);
CREATE INDEX replays_recent ON replays (created_at DESC);
