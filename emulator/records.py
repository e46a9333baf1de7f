"""Realistic event records, as the edge and the reconciler would produce them, for the writer's tests
and benchmarks (`bench/consume.py`): conversations of messages, echoes,
deliveries, reads, reactions, edits, postbacks and graph snapshots, deterministic for a seed."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from kernel.records import EventRecord, Kind

BASE_MS = 1_795_946_400_000  # 2026-11-29T10:00:00Z


def graph_time(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def webhook(kind: Kind, page: str, user: str, ts: int, event: dict[str, object], index: int = 0) -> EventRecord:
    return EventRecord("webhook", kind, "messenger", page, user, ts, ts + 50, f"{page}{user}{ts}".ljust(64, "0")[:64],
                       index, None, {"sender": {"id": user}, "recipient": {"id": page}, "timestamp": ts, **event})


def message(page: str, user: str, mid: str, ts: int, text: str, *, echo: bool = False) -> EventRecord:
    body: dict[str, object] = {"mid": mid, "text": text}
    if echo:
        body.update(is_echo=True, app_id=1517776481860111, metadata="agent")
        return EventRecord("webhook", "message", "messenger", page, user, ts, ts + 50, None, 0, None,
                           {"sender": {"id": page}, "recipient": {"id": user}, "timestamp": ts, "message": body})
    return webhook("message", page, user, ts, {"message": body})


def snapshot(page: str, user: str, run_id: str, ts: int, messages: list[tuple[str, int, str, bool]],
             count: int) -> EventRecord:
    """A graph record listing `messages` (mid, ms, text, outbound) newest first."""
    graph_messages = [{"id": mid, "created_time": graph_time(ms), "message": text,
                       "from": {"id": page if out else user, "name": "x"}, "to": {"data": [{"id": user if not out else page}]}}
                      for mid, ms, text, out in sorted(messages, key=lambda m: -m[1])]
    conversation = {"id": f"t_{page}_{user}", "updated_time": graph_time(ts), "message_count": count,
                    "unread_count": 0, "snippet": graph_messages[0]["message"] if graph_messages else "",
                    "participants": {"data": [{"id": user, "name": "u"}, {"id": page, "name": "p"}]},
                    "can_reply": True, "link": f"/{page}/inbox/t_{page}_{user}"}
    return EventRecord("graph", "conversation_snapshot", "messenger", page, user, ts // 1000 * 1000, ts + 50,
                       None, None, run_id, {"conversation": conversation, "messages": graph_messages, "folder": "inbox",
                                             "read_at": ts + 50})


def conversation(page: str, user: str, n_messages: int, rng: random.Random, *, run_id: str | None = None,
                 start_ms: int = BASE_MS) -> list[EventRecord]:
    """One conversation's events in time order: messages and echoes with the events around them."""
    records: list[EventRecord] = []
    ts = start_ms
    seen: list[tuple[str, int, str, bool]] = []
    for i in range(n_messages):
        ts += rng.randint(1_000, 60_000)
        out = rng.random() < 0.4
        mid = f"m_{page}_{user}_{i}"
        text = f"message {i} from {'page' if out else 'user'}"
        seen.append((mid, ts, text, out))
        records.append(message(page, user, mid, ts, text, echo=out))
        records.extend(_around(page, user, mid, ts, out, i, rng))
    if run_id is not None and seen:
        records.append(snapshot(page, user, run_id, ts + 1_000, seen[-20:], len(seen)))
    return records


def _around(page: str, user: str, mid: str, ts: int, out: bool, i: int, rng: random.Random) -> list[EventRecord]:
    extra: list[EventRecord] = []
    roll = rng.random()
    if out and roll < 0.5:
        extra.append(webhook("delivery", page, user, ts + 500, {"delivery": {"mids": [mid], "watermark": ts + 400}}))
        extra.append(webhook("read", page, user, ts + 900, {"read": {"watermark": ts + 800}}))
    elif out and roll < 0.7:
        extra.append(webhook("reaction", page, user, ts + 700, {"reaction": {
            "mid": mid, "action": "react", "reaction": "love", "emoji": "\u2764"}}))
    elif not out and roll < 0.1:
        extra.append(webhook("message_edit", page, user, ts + 300, {"message_edit": {
            "mid": mid, "text": f"message {i} edited", "num_edit": 1}}))
    elif not out and roll < 0.15:
        extra.append(webhook("postback", page, user, ts + 200, {"postback": {
            "mid": f"{mid}_pb", "title": "Yes", "payload": f"YES_{i}"}}))
    return extra


def mixed(n_records: int, *, pages: int = 4, messages_per_conversation: int = 10, seed: int = 7,
          run_id: str | None = None) -> list[EventRecord]:
    """About `n_records` records over as many conversations as it takes, interleaved across them."""
    rng = random.Random(seed)
    streams: list[list[EventRecord]] = []
    total, u = 0, 0
    while total < n_records:
        page, user = f"10{u % pages:08d}", f"20{u:08d}"
        stream = conversation(page, user, messages_per_conversation, rng, run_id=run_id)
        streams.append(stream)
        total += len(stream)
        u += 1
    return _interleave(streams, rng)[:n_records]


def _interleave(streams: list[list[EventRecord]], rng: random.Random) -> list[EventRecord]:
    """Round-robin over conversations (keeping each one's order), like many users writing at once."""
    out: list[EventRecord] = []
    cursors = [0] * len(streams)
    live = list(range(len(streams)))
    while live:
        rng.shuffle(live)
        for s in list(live):
            out.append(streams[s][cursors[s]])
            cursors[s] += 1
            if cursors[s] == len(streams[s]):
                live.remove(s)
    return out


def new_run_id() -> str:
    return str(uuid.uuid4())
