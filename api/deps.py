"""Shared dependencies: the engine (opened in the lifespan) and a session per request."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.engine import Connection, Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_conn(request: Request) -> Iterator[Connection]:
    """A connection in one transaction per request: committed on success, else rolled back."""
    with request.app.state.engine.begin() as conn:
        yield conn
