"""The shared state and the token checks, as FastAPI dependencies.

A route names what it needs in its signature: `st: StateDep` (no check: health), `st: Reader`
(reads; a token when PORTREG_READ_AUTH=token), `auth: Writer` (the state and the principal
that writes; a write token unless PORTREG_WRITE_AUTH=open), `st: StreamReader` (a reader that
may also give a stream ticket as `?ticket=`, or a read token as `?access_token=`, for the
change stream only). The checks run
before the request's body is read, so an unauthorised caller learns nothing about it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from portreg.server.auth import ANONYMOUS, Principal
from portreg.server.errors import HttpError
from portreg.server.state import State, state_of


async def _state(request: Request) -> State:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, which cost
    # every read about a quarter of its throughput (measured against the handlers' own calls).
    return state_of(request)


StateDep = Annotated[State, Depends(_state)]


async def principal(request: Request, st: State) -> Principal | None:
    """The caller named by `Authorization: Bearer <token>`; None without the header."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "invalid Authorization header (expected: Bearer <token>)")
    found = await st.tokens.lookup(token.strip())
    if found is None:
        raise HttpError(401, "invalid token")
    return found


async def check_read(request: Request, st: State) -> State:
    if st.settings.read_auth == "token":
        who = await principal(request, st)
        if who is None:
            raise HttpError(401, "reads need a token (Authorization: Bearer <token>)")
        if not who.can_read:
            raise HttpError(
                403, f"token {who.name!r} has scope {who.scope!r}: it may report listeners only"
            )
    return st


# The checks take the request alone, not `StateDep`: each level of dependency costs FastAPI a
# solving step on every request, measurable on the reads.


async def _reader(request: Request) -> State:
    return await check_read(request, state_of(request))


async def _stream_reader(
    request: Request,
    ticket: Annotated[
        str | None,
        Query(
            max_length=100,
            description="a stream ticket from POST /stream-tickets, for clients that cannot "
            "send Authorization (a browser's EventSource)",
        ),
    ] = None,
    access_token: Annotated[
        str | None,
        Query(
            max_length=200,
            description="a read-scope token (a write token is refused in a URL: use a ticket)",
        ),
    ] = None,
) -> State:
    """`Reader` for the change stream, which also takes a short-lived `?ticket=` (or a read
    token as `?access_token=`): a browser's EventSource cannot send an Authorization header.
    Only this endpoint does. A write token is never taken from a URL (query strings end up in
    logs and histories; Uvicorn's access log redacts them anyway)."""
    from portreg.server import tickets

    st = state_of(request)
    if st.settings.read_auth != "token" or request.headers.get("authorization"):
        return await check_read(request, st)
    if ticket:
        if not tickets.valid(st.stream_secret, ticket):
            raise HttpError(401, "invalid or expired stream ticket (POST /stream-tickets)")
        return st
    if not access_token or not access_token.strip():
        raise HttpError(
            401, "reads need a token (Authorization: Bearer <token>, or ?ticket=<stream ticket>)"
        )
    who = await st.tokens.lookup(access_token.strip())
    if who is None:
        raise HttpError(401, "invalid token")
    if who.can_write:
        raise HttpError(
            401, "a write token is not taken in a URL: get a ticket from POST /stream-tickets"
        )
    return st


async def _writer(request: Request) -> tuple[State, Principal]:
    st = state_of(request)
    who = await principal(request, st)
    if who is None:
        if st.settings.write_auth == "open":
            return st, ANONYMOUS
        raise HttpError(401, "writes need a write token (Authorization: Bearer <token>)")
    if not who.can_write:
        raise HttpError(
            403, f"token {who.name!r} has scope {who.scope!r}; writes need scope 'write'"
        )
    return st, who


async def _reporter(request: Request) -> tuple[State, Principal]:
    """An agent reporting its host: an `agent` or `write` token (or open writes)."""
    st = state_of(request)
    who = await principal(request, st)
    if who is None:
        if st.settings.write_auth == "open":
            return st, ANONYMOUS
        raise HttpError(401, "reports need an agent or write token (Authorization: Bearer <token>)")
    if not who.can_report:
        raise HttpError(
            403, f"token {who.name!r} has scope {who.scope!r}; reports need 'agent' or 'write'"
        )
    return st, who


Reader = Annotated[State, Depends(_reader)]
Reporter = Annotated[tuple[State, Principal], Depends(_reporter)]
StreamReader = Annotated[State, Depends(_stream_reader)]
Writer = Annotated[tuple[State, Principal], Depends(_writer)]
