"""The Meta stand-in: Graph API, Messenger/Instagram webhook traffic, and the ground truth to compare against.

Python API (tests, benchmarks and `convsync dev` use these names):

- `emulator.world`: `WorldConfig` (seed, pages, instagram_pages, conversations_per_page,
  messages_per_conversation, start_ms, standby_share, ...) and `World`, deterministic from the seed.
  Pages have `page_id`, `platform`, `name`, `access_token`; conversations (`t_<digits>`) hold one user
  each (PSID, or IGSID for Instagram) and messages whose ids (`m_...`, Instagram `aWdf...`) are the same
  in webhooks and in the Graph API. Every change is a method (`user_message`, `page_message`, `deliver`,
  `read`, `react`, `unreact`, `edit`, `unsend`, `postback`, `referral`) that updates the world and returns
  the `WebhookEvent`s Meta would send about it.
- `emulator.graph`: `make_app(GraphState)`, the aiohttp app for `/{version}/...`:
  `GET {page}/conversations` (`platform`, `folder`, `user_id`, `limit`, `after`, `fields`; newest
  `updated_time` first; `since` ignored), `GET {conversation}`, `GET {conversation}/messages`,
  `GET {message}` (only the 20 newest of a conversation), batch `POST /` (at most 50, each charged).
  `emulator.gate`: `GraphConfig` (rate, burst, throttle code, transient share, latency, `Limits`,
  app secret for `appsecret_proof`), `GraphState` (the gate, `stats`, `controls`), `GraphStats`.
  Chosen limits (`resolve.Limits`): `limit` defaults to 25 and is clamped to 100; a listing whose
  `limit` x nested `messages.limit` exceeds 1000 answers code 1 "reduce the amount of data".
  Cursors are keyset cursors on (`updated_time`, id): no thread is listed twice while traffic moves
  threads to the top, and every thread that did not change during the walk is listed exactly once.
- `emulator.runner`: `async with run_emulator(EmulatorConfig(...), clock=time.monotonic) as emu:` ->
  `emu.graph_url` (no version), `emu.world`, `emu.stats` (Graph counters), `emu.delivery` (webhook
  outcomes), `emu.traffic`, and the controls `expire_token(page_id)`, `set_token(page_id, token)`,
  `set_rate(calls_per_second, burst=None)`, `set_transient_failure_rate(rate)`,
  `set_latency(latency_ms, jitter_ms=0)`, `set_webhook_faults(loss=, duplicate=, reorder=)`,
  `set_traffic_rate(changes_per_second)`, `await send(events)`. `emulator.control` serves the same
  controls over HTTP under `/_emulator/...` plus `GET /_emulator/truth|stats|pages`.
- `emulator.webhooks`: `WebhookConfig`, `plan(...)` (pure: batching and the fault decisions) and
  `WebhookSender.send(events)` (signed, retried; `stats.delivered` / `stats.lost` say which events got
  a 2xx). `emulator.signing`: `meta_json(payload)` (Meta's escaping), `signature_256(secret, body)`.
- `emulator.traffic`: `TrafficConfig`, `step(world, rng, mix)` and `Traffic` (changes at a rate,
  bounded by count and time).
- `emulator.truth`: `expected(world, page_ids=None) -> Expected` and
  `await compare(conn, expected, window=20 | None) -> Diff`
  (`.ok`, `.missing`, `.extra`, `.different`, `.report()`).
"""
