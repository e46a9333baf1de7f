-- The tables of DESIGN §5: the data contract users query.
-- Times are timestamptz (Meta's epoch milliseconds converted); ids are text.

CREATE TABLE pages (
    page_id          text PRIMARY KEY,
    platform         text NOT NULL CHECK (platform IN ('messenger', 'instagram')),
    name             text NOT NULL DEFAULT '',
    access_token     bytea,                      -- Fernet ciphertext, never plaintext
    status           text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'needs_reauth', 'paused')),
    last_synced_at   timestamptz,                -- newest Graph updated_time durably in Kafka
    lease_owner      text,                       -- reconciler replica holding the page
    lease_expires_at timestamptz,
    lease_epoch      bigint NOT NULL DEFAULT 0,  -- fencing token: bumped on every new lease
    next_sync_at     timestamptz,
    status_reason    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pages_due_idx ON pages (next_sync_at NULLS FIRST) WHERE status = 'active';

CREATE TABLE conversations (
    page_id             text NOT NULL,
    user_id             text NOT NULL,
    platform            text NOT NULL CHECK (platform IN ('messenger', 'instagram')),
    graph_id            text UNIQUE,             -- t_..., learnt from sync
    updated_at          timestamptz,             -- Graph updated_time, or newest event seen
    last_message_at     timestamptz,
    message_count       integer,
    unread_count        integer,
    snippet             text,
    delivered_watermark timestamptz,
    read_watermark      timestamptz,
    participants        jsonb,
    can_reply           boolean,
    link                text,
    snapshot_at         timestamptz,             -- updated_time of the newest Graph snapshot applied
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (page_id, user_id)
);
CREATE INDEX conversations_recent_idx ON conversations (page_id, last_message_at DESC NULLS LAST);

CREATE TABLE messages (
    mid           text PRIMARY KEY,
    page_id       text NOT NULL,
    user_id       text NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender_id     text NOT NULL,
    created_at    timestamptz NOT NULL,          -- Meta's time
    text          text,
    attachments   jsonb,
    reply_to_mid  text,
    quick_reply   jsonb,
    app_id        text,
    metadata      text,
    is_deleted    boolean NOT NULL DEFAULT false,
    edit_count    integer NOT NULL DEFAULT 0,
    edited_at     timestamptz,
    source        text NOT NULL CHECK (source IN ('webhook', 'graph')),
    raw           jsonb,
    inserted_at   timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_thread_idx ON messages (page_id, user_id, created_at DESC);

CREATE TABLE reactions (
    mid        text NOT NULL,
    user_id    text NOT NULL,
    reaction   text,                             -- NULL after an unreact (kept so older events lose)
    emoji      text,
    reacted_at timestamptz NOT NULL,             -- time of the newest react/unreact applied
    PRIMARY KEY (mid, user_id)
);

CREATE TABLE conversation_events (
    event_key   text PRIMARY KEY,                -- stable: the event's own ids, or body hash + index
    page_id     text NOT NULL,
    user_id     text,
    kind        text NOT NULL,
    occurred_at timestamptz,
    payload     jsonb NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_events_thread_idx ON conversation_events (page_id, user_id, occurred_at);

CREATE TABLE sync_runs (
    run_id          uuid PRIMARY KEY,
    page_id         text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('full', 'incremental')),
    trigger         text NOT NULL,               -- timer | admin | cli | compat
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    started_at      timestamptz,
    finished_at     timestamptz,
    conversations   integer NOT NULL DEFAULT 0,  -- snapshots produced
    messages        integer NOT NULL DEFAULT 0,  -- messages produced
    inserted        integer NOT NULL DEFAULT 0,  -- rows the writer inserted for this run
    updated         integer NOT NULL DEFAULT 0,  -- rows the writer changed for this run
    graph_calls     integer NOT NULL DEFAULT 0,
    throttled       integer NOT NULL DEFAULT 0,
    watermark_from  timestamptz,
    watermark_to    timestamptz,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_runs_page_idx ON sync_runs (page_id, created_at DESC);
