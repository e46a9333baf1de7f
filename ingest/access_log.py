"""uvicorn's access log without query strings.

The handshake carries `hub.verify_token` in the query string, so the access log prints paths only.
Signatures travel in headers, which uvicorn's access log never prints.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class DropQueryString(logging.Filter):
    """Rewrite uvicorn's access record `(client, method, path?query, version, status)` to the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with `DropQueryString` on the access handler."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"drop_query_string": {"()": "ingest.access_log.DropQueryString"}}
    config["handlers"]["access"]["filters"] = ["drop_query_string"]
    return config
