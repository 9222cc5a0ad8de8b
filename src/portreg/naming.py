"""Service names and ids: which names are usable, and the id a new name gets.

Every door (the command line, the server's SQLite and PostgreSQL paths, import) asks here, so a
name refused at one is refused at all of them, with the same words.
"""

from __future__ import annotations

import re

from portreg.errors import Conflict, PortregError
from portreg.model import Service, service_id

MAX_NAME = 100


def usable(ref: str) -> str:
    """`ref` if it can name a service: the name becomes a display name in tables and pages, so
    a control character (a newline from a shell substitution) or an essay is refused rather
    than silently flattened into an id that may be another service's."""
    from portreg.validate import control_char

    if control_char(ref) is not None:
        raise PortregError(f"not a usable service name: {ref!r} (it has a control character)")
    if len(ref) > MAX_NAME:
        raise PortregError(f"not a usable service name: longer than {MAX_NAME} characters")
    return ref


def new_id(ref: str) -> str:
    """The id of a new service named `ref` ("API Server" → api-server)."""
    sid = service_id(usable(ref))
    if not sid:
        raise PortregError(f"not a usable service name: {ref!r} (it needs a letter or digit)")
    return sid


_SEPARATORS = re.compile(r"[\s_.\-]+")


def _spelling(text: str) -> str:
    import unicodedata

    return _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def claim(ref: str, found: Service) -> Service:
    """`found`, the service whose id `ref` maps to, if `ref` names it: its id, or its display
    name up to case and separators (`api_server` for "API Server"). A name that only maps to
    the same id — `svc-😀` beside "svc", whose emoji is no letter — is another service, and is
    refused rather than silently handed the first one's port."""
    if ref == found.id or _spelling(ref) in (_spelling(found.name), _spelling(found.id)):
        return found
    raise Conflict(
        f"{ref!r} would get the id {found.id!r}, which is {found.name!r} already; "
        "choose a name that differs in its letters or digits"
    )
