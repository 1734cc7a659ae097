"""Domain errors: plain exceptions a user can act on; `api/errors.py` maps them to HTTP."""

from __future__ import annotations

from typing import Any


class GridmapError(Exception):
    """Base of every error the product reports to a user (CLI: one line; HTTP: problem+json)."""

    title = "Request failed"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class SetupError(GridmapError):
    """The local database or a system package is missing or misconfigured."""

    title = "Set-up problem"


class DatabaseUnreachable(GridmapError):
    title = "Database unreachable"


class NotFound(GridmapError):
    title = "Not found"


class InvalidInput(GridmapError):
    """The request or file is wrong; `extra` carries where (row, field, feature)."""

    title = "Invalid input"


class BadQuery(InvalidInput):
    """A query string the endpoint does not understand (OGC API: 400)."""

    title = "Bad query"


class Forbidden(GridmapError):
    """The caller's role (or their grids) does not allow this action on this record."""

    title = "Forbidden"


class Conflict(GridmapError):
    """The request contradicts the current state (e.g. an illegal state transition)."""

    title = "Conflict"


class PreconditionFailed(GridmapError):
    """The caller's ETag no longer matches: someone else changed the unit first."""

    title = "Precondition failed"


class PreconditionRequired(GridmapError):
    """An edit came without the ETag (If-Match) of the version it was made on."""

    title = "Precondition required"


class AlreadySeeded(GridmapError):
    title = "Already seeded"


class TooLarge(GridmapError):
    """A file or request is above a configured size limit."""

    title = "Payload too large"


class TooManyRequests(GridmapError):
    """Too many failed sign-ins or bad tokens: try again after `retry_after` seconds."""

    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
