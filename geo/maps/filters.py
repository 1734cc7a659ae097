"""The map pages' incident filter. It lives in `geo.cases.selection` (the analyses below the
maps use it too); its names are kept here for the pages that import them from `geo.maps`."""

from __future__ import annotations

from geo.cases.selection import (
    LOCAL,
    IncidentFilter,
    category_codes,
    data_end,
    describe,
    hides_sensitive,
    incident_filter,
    parse_time,
    selection,
    visibility_class,
)

__all__ = [
    "LOCAL",
    "IncidentFilter",
    "parse_time",
    "category_codes",
    "incident_filter",
    "selection",
    "visibility_class",
    "hides_sensitive",
    "describe",
    "data_end",
]
