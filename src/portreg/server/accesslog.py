"""Uvicorn's access log prints the query string: never a credential (see /events).

The server decodes a query's keys (`access%5Ftoken` is `access_token`), so the redaction
decodes them too, and takes out the value of every key that carries a credential.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_KEYS = frozenset({"access_token", "ticket", "token"})
_PAIR = re.compile(r"(?<=[?&])([^=&\s]+)=([^&\s\"]*)")


def redact(text: str) -> str:
    """`text` with the values of credential-carrying query keys replaced by `***`."""
    if "=" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        return f"{key}=***" if unquote_plus(key).strip().lower() in SECRET_KEYS else m.group(0)

    return _PAIR.sub(one, text)


class _RedactToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "=" in a for a in args):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


def redact_tokens() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactToken) for f in access.filters):
        access.addFilter(_RedactToken())
