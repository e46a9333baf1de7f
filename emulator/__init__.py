"""The Meta stand-in: Graph API, Messenger/Instagram webhook traffic, and the ground truth to compare against.

Python API (tests, benchmarks and `convsync dev` use these names):

- `emulator.world`: `WorldConfig` (seed, pages, instagram_pages, conversations_per_page,
  messages_per_conversation, start_ms, ...) and `World`, deterministic from the seed. Pages have
  `page_id`, `platform`, `name`, `access_token`; conversations (`t_<digits>`) hold users (PSIDs/IGSIDs)
  and messages whose ids are the same in webhooks and the Graph API. Every change is a method
  (`user_message`, `page_message`, `deliver`, `read`, `react`, `unreact`, `edit`, `unsend`, `postback`,
  `referral`) that updates the world and returns the `WebhookEvent`s Meta would send about it.
- `emulator.graph`: `GraphConfig`, `GraphState` (the gate: tokens, `appsecret_proof`, per-page token
  bucket, transient failures; `stats`, `controls`) and `make_app(state)`, the aiohttp app for
  `/{version}/...` (`{page}/conversations`, `{conversation}`, `{conversation}/messages`, `{message}`,
  batch `POST /`). Limits (max `limit`, data budget for code 1) are `resolve.Limits`.
- `emulator.runner`: `async with run_emulator(EmulatorConfig(...)) as emu:` -> `emu.graph_url`,
  `emu.world`, `emu.stats`, `emu.delivery`, `emu.expire_token(page_id)`, `emu.set_token(page_id, token)`,
  `emu.set_rate(calls_per_second, burst=None)`, `emu.set_transient_failure_rate(rate)`,
  `emu.set_latency(latency_ms, jitter_ms=0)`. The same over HTTP under `/_emulator/...` (`emulator.control`).
- `emulator.webhooks`: `WebhookConfig`, `WebhookSender.send(events)` (batched, signed, retried; knobs for
  loss, duplication, reordering; `stats.delivered` / `stats.lost` say which events got a 2xx).
- `emulator.signing`: `meta_json(payload)` (Meta's escaping) and `signature_256(secret, body)`.
- `emulator.traffic`: `TrafficConfig`, `step(world, rng, mix)` and `Traffic` (changes at a rate, bounded).
- `emulator.truth`: `expected(world, page_ids=None) -> Expected` and
  `await compare(conn, expected, window=20 | None) -> Diff` (`.ok`, `.missing`, `.extra`, `.different`, `.report()`).
"""
