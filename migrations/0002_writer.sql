-- The writer's own state (issue 5): facts about a message kept apart from the message row, so an
-- event that overtook its message is stored on arrival and applied whenever the message lands
-- (in the same batch or any later one), and a replay re-applies nothing.

-- The newest Graph snapshot of a conversation, kept beside the values derived from stored messages:
-- `message_count`, `unread_count`, `snippet`, `last_message_at` are recomputed from both.
ALTER TABLE conversations
    ADD COLUMN snapshot_message_count integer,
    ADD COLUMN snapshot_unread_count  integer,
    ADD COLUMN snapshot_snippet       text;

-- The highest edit of each message (an edit applies only with a higher num_edit).
CREATE TABLE message_edits (
    mid       text PRIMARY KEY,
    page_id   text NOT NULL,
    user_id   text NOT NULL,
    num_edit  integer NOT NULL,
    text      text,
    edited_at timestamptz NOT NULL
);

-- Unsent / deleted messages (Instagram `is_deleted`); the flag sticks, the known text stays.
CREATE TABLE message_deletes (
    mid        text PRIMARY KEY,
    page_id    text NOT NULL,
    user_id    text NOT NULL,
    deleted_at timestamptz NOT NULL
);

-- Instagram per-message reads (`read.mid`): the read watermark becomes the read message's time.
CREATE TABLE message_reads (
    mid       text NOT NULL,
    reader_id text NOT NULL,
    page_id   text NOT NULL,
    user_id   text NOT NULL,
    read_at   timestamptz NOT NULL,
    PRIMARY KEY (mid, reader_id)
);
CREATE INDEX message_reads_thread_idx ON message_reads (page_id, user_id);

-- Message rows the writer inserted from graph records that no webhook had delivered (missed webhooks).
ALTER TABLE sync_runs ADD COLUMN gap_messages integer NOT NULL DEFAULT 0;
