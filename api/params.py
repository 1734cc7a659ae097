"""Parameter types shared by routes: dates that are ISO 8601 and plausible, offsets that fit
the database, so nonsense (`since=0`, year 40000, offset 2^70) is a 422 naming the field."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

#: the database's bigint: offsets and ids above it cannot be compared, let alone exist
MAX_BIGINT = 2**63 - 1
#: dates outside these years are typing mistakes, not records of this service
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?"
)


def _text_like(pattern: re.Pattern, example: str):
    def check(value):
        if isinstance(value, date):
            return value
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            raise ValueError(f"write an ISO 8601 date, e.g. {example}")
        return value.strip()

    return check


def _plausible(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year should be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


#: a calendar date written as YYYY-MM-DD
IsoDate = Annotated[
    date, BeforeValidator(_text_like(_DATE, "2026-03-05")), AfterValidator(_plausible)
]
#: a date or date-time in ISO 8601 (RFC 3339), e.g. 2026-03-05 or 2026-03-05T08:30:00+08:00
IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_text_like(_DATETIME, "2026-03-05T08:30:00+08:00")),
    AfterValidator(_plausible),
]
