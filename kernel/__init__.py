"""What every convsync process shares, and nothing else.

- `settings`: the `CONVSYNC_*` environment, read once at start-up into frozen values; secrets wrapped
- `records`: the Kafka record contract (topic names, envelope, schema version, encode/decode)
- `kafka`: producer and consumer construction, topic creation
- `jsoncodec`: JSON with the standard library's meaning, through orjson where that is exact
- `times`: Meta's times (epoch seconds or milliseconds, Graph's ISO 8601) as epoch milliseconds
- `jsonvalues`: typed reads of untyped JSON objects
- `startup`: the start-up checks of every long-running command, each failure one line

The edge (`ingest/`), the writer (`consumers/`), the reconciler (`reconciler/`) and the emulator
import from here; none of them imports another.
"""
