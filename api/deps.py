"""Shared dependencies: the engine (opened in the lifespan) and a session per request."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from api.security import current_principal
from geo.access.roles import Principal


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_conn(request: Request) -> Iterator[Connection]:
    """A connection in one transaction per request: committed on success, else rolled back.
    Routes take it as `CONN`, which commits before the answer leaves."""
    with request.app.state.engine.begin() as conn:
        yield conn


def get_read_conn(
    request: Request, principal: Principal = Depends(current_principal)
) -> Iterator[Connection]:
    """A connection for read-only work: on the read replica (GRIDMAP_READ_DATABASE_URL) when
    it is up and has the caller's own writes, else on the primary. Only for routes that
    write nothing; `X-Read-Source` on the answer says which database served it."""
    reads = getattr(request.app.state, "reads", None)
    if reads is None:
        yield from get_conn(request)
        return
    with reads.begin(principal.id) as (conn, source):
        request.state.read_source = source
        yield conn


# Each route takes its connection through these: scope "function" ends the transaction when
# the route returns, before the answer is sent. FastAPI's default ends it after the answer,
# so a browser following a form's 303 could ask before the write was committed (a new
# session not yet seen: back to /login) and a failed commit would follow a success answer.
CONN = Depends(get_conn, scope="function")
READ_CONN = Depends(get_read_conn, scope="function")
