-- Who each conversation is with (DESIGN §5). Two writers, each owning its columns:
--   the consumers, from the participants of every Graph reading (free): name (Messenger), username
--     (Instagram); source 'participants' until a profile was read;
--   the reconciler's profile pass (reconciler/profiles.py), for people without one: Messenger
--     first_name, last_name, profile_pic; Instagram name, username, profile_pic; profile_fetched_at.
--     A profile Meta refuses (the person blocked the page: code 100 or 551) is recorded in
--     refused_code/refused_at and not asked again until CONVSYNC_PROFILE_REFRESH_DAYS passed.
CREATE TABLE contacts (
    page_id            text NOT NULL,
    user_id            text NOT NULL,
    platform           text NOT NULL CHECK (platform IN ('messenger', 'instagram')),
    name               text,
    first_name         text,
    last_name          text,
    username           text,
    profile_pic_url    text,
    profile_fetched_at timestamptz,
    refused_code       integer,
    refused_at         timestamptz,
    source             text NOT NULL CHECK (source IN ('participants', 'profile')),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (page_id, user_id)
);
