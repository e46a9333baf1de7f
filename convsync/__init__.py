"""convsync's composition root: the `convsync` command, `convsync dev`, the embedded stack.

The components live beside it: `ingest/` (webhook edge and what every process shares), `consumers/`
(the writer), `reconciler/` (Graph sync and admin API), `emulator/` (the Meta stand-in).
"""
