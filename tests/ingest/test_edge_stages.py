"""bench/edge_stages.py's attribution of py-spy samples to the edge's stages (pure)."""

from __future__ import annotations

from pathlib import Path

from bench.edge_stages import OTHER, stage_of, tally

LOOP = "<module> (<string>:1);Runner.run (asyncio/runners.py:118)"


def test_a_sample_belongs_to_the_innermost_matching_stage_and_idle_threads_to_none() -> None:
    def frames(stack: str) -> list[str]:
        return [f.rsplit(":", 1)[0] + ")" for f in stack.split(";")]

    send = frames(f"{LOOP};Coalescer._hand_over (ingest/coalesce.py:120);Coalescer._send (ingest/coalesce.py:170);"
                  "encode (kernel/records.py:80)")
    assert stage_of(send).startswith("records into batches")
    answer = frames(f"{LOOP};WebhookEndpoint.__call__ (ingest/webhook.py:70);answer (ingest/webhook.py:130);"
                    "RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:522)")
    assert stage_of(answer).startswith("answer")
    assert stage_of(frames(LOOP)) == OTHER
    native_write = "UVStream__try_write (loop.c:106818);write (libc.so.6)"
    produce = frames(f"{LOOP};ProduceRequests._request (ingest/shipping.py:77);StreamWriter.write (asyncio/streams.py:1);"
                     + native_write)
    assert stage_of(produce).startswith("write system call to the broker")
    assert stage_of(frames(f"{answer_stack()};{native_write}")).startswith("write system call answering")
    assert stage_of(produce[:-2]).startswith("Produce requests")  # the Python around the call is the Produce stage
    assert stage_of(frames("Thread._bootstrap (threading.py:995);Process.pong (uvicorn/supervisors/x.py:1)")) is None
    native_idle = "clone3 (libc.so.6);Thread._bootstrap (threading.py:995);Process.pong (uvicorn/supervisors/x.py:1)"
    assert stage_of(frames(f"{native_idle};Connection._recv (multiprocessing/connection.py:1);read (libc.so.6)")) is None


def answer_stack() -> str:
    return (f"{LOOP};WebhookEndpoint.__call__ (ingest/webhook.py:70);answer (ingest/webhook.py:130);"
            "RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:522)")


def test_the_tally_reads_py_spys_raw_output(tmp_path: Path) -> None:
    raw = tmp_path / "spy.txt"
    raw.write_text(f"{LOOP};parse_webhook (ingest/parse.py:60);_load (ingest/parse.py:99) 7\n"
                   f"{LOOP} 3\n\n"
                   "Thread._bootstrap (threading.py:995);Thread.run (threading.py:1) 50\n")
    counts = tally([raw])
    assert counts == {"parse: JSON, split into records": 7, OTHER: 3}
