-- When the reconciler last read a message's text from the Graph API. A message's text is its newest
-- known version: the original (created_at), an edit webhook (edited_at) or a Graph reading
-- (text_seen_at), so a lost edit webhook is repaired by the next sync and never undone by an older edit.
ALTER TABLE messages ADD COLUMN text_seen_at timestamptz;
