"""Uvicorn's access log prints the query string: never an `access_token` (see /events)."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"access_token=[^&\s]*")


class _RedactToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any("access_token=" in str(a) for a in args):
            record.args = tuple(
                _TOKEN.sub("access_token=***", a) if isinstance(a, str) else a for a in args
            )
        return True


def redact_tokens() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactToken) for f in access.filters):
        access.addFilter(_RedactToken())
