-- The rest of what an inbox needs of each conversation and message (DESIGN §5), all derived from
-- webhooks and syncs by the writer (consumers/sql/):
--   conversations.folder               the Graph folder the newest sync listed it in (inbox, other, ...)
--   conversations.thread_owner_app_id  the app that controls the thread after the newest handover
--                                      (pass/take_thread_control) by Meta's time; NULL: not known
--   messages.is_standby                came under `standby[]`: another app controlled the thread
--   messages.story                     Instagram story reply (`reply_to.story`) or mention
--                                      (attachment `story_mention`): {"type": "reply"|"mention", "url", "id"}
--   *.time_unknown                     the webhook's time was neither epoch seconds nor milliseconds:
--                                      the event is kept, its time is the arrival time, and this says so
--   conversation_events.referral_source / referral_ref   a referral's source (ADS, SHORTLINK, ...) and ref,
--                                      from a referral event or a postback that carries one
ALTER TABLE conversations
    ADD COLUMN folder              text,
    ADD COLUMN thread_owner_app_id text,
    ADD COLUMN thread_owner_at     timestamptz;  -- Meta's time of the handover that set it

ALTER TABLE messages
    ADD COLUMN is_standby   boolean NOT NULL DEFAULT false,
    ADD COLUMN story        jsonb,
    ADD COLUMN time_unknown boolean NOT NULL DEFAULT false;

ALTER TABLE conversation_events
    ADD COLUMN referral_source text,
    ADD COLUMN referral_ref    text,
    ADD COLUMN time_unknown    boolean NOT NULL DEFAULT false;

UPDATE messages SET is_standby = true WHERE raw ->> 'standby' = 'true';
