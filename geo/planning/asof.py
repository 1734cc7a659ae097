"""Boundaries as they were: the layer at a moment, a unit's history, the change log, and
statistics of a past period counted on the boundaries valid then.

The database functions `units_as_of(ts)` and `courtyards_as_of(ts)` (revision 0005) return
the versions in force at `ts`; any module can count on them:

    >>> counts_as_of(conn, "incidents", "sector", at=datetime(2025, 6, 30, tzinfo=UTC),
    ...              start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 7, 1, tzinfo=UTC))
    ... # doctest: +SKIP

A date (`2026-11-01`) means the end of that day in Beijing time: the boundaries in force
when the day closed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.privacy import Exposure, mask_record
from geo.core.errors import InvalidInput, NotFound
from geo.core.terms import BEIJING
from geo.grid.attach import POINT_TABLES, codes_sql
from geo.planning.layer import current_layer_etag, unit_etag

LEVELS = ("district", "community", "grid2", "sector", "courtyard")

#: the units in force at :at (a CTE body other modules can reuse)
UNITS_AS_OF = "SELECT * FROM units_as_of(CAST(:at AS timestamptz))"
COURTYARDS_AS_OF = "SELECT * FROM courtyards_as_of(CAST(:at AS timestamptz))"


def parse_as_of(value: str | date | datetime | None) -> datetime | None:
    """None (now), a datetime (naive = Beijing time), or a date (the end of that day in
    Beijing time); InvalidInput for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=BEIJING)
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time(), BEIJING) - timedelta(
            microseconds=1
        )
    text_value = str(value).strip()
    try:
        if len(text_value) == 10:
            return parse_as_of(date.fromisoformat(text_value))
        return parse_as_of(datetime.fromisoformat(text_value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidInput(
            f"as_of: {value!r} is not a date (2026-11-01) or a time (2026-11-01T08:30:00+08:00)"
        ) from None


def _level(level: str) -> str:
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    return level


def boundaries(
    conn: Connection,
    level: str = "sector",
    as_of: datetime | None = None,
    exposure: Exposure = Exposure.MASKED,
    own: str | None = None,
) -> dict:
    """The units (or courtyards) of `level` in force at `as_of` (default now), as a GeoJSON
    FeatureCollection whose feature ids are the codes; current ones carry their ETag. Who
    changed each (`changed_by`) is masked unless `exposure` says not or it is `own`."""
    _level(level)
    at = as_of or datetime.now(UTC)
    if level == "courtyard":
        sql = f"""
            WITH c AS ({COURTYARDS_AS_OF}), u AS ({UNITS_AS_OF})
            SELECT c.code, 'courtyard' AS level, c.kind, c.name_zh, c.name_en,
                   (SELECT u.code FROM u WHERE u.level = 'sector'
                     AND ST_Covers(u.geom, ST_PointOnSurface(c.geom))
                     ORDER BY u.code LIMIT 1) AS parent_code,
                   c.version, c.valid_from, c.valid_to, c.reason, c.changed_by, c.change_id,
                   ST_AsGeoJSON(ST_ForcePolygonCCW(c.geom), 7) AS geometry
            FROM c ORDER BY c.code"""
    else:
        sql = f"""
            SELECT code, level, parent_code, name_zh, name_en, version, valid_from, valid_to,
                   reason, changed_by, change_id,
                   ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 7) AS geometry
            FROM ({UNITS_AS_OF}) u WHERE level = :level ORDER BY code"""
    rows = conn.execute(text(sql), {"at": at, "level": level}).mappings().all()
    if not rows:
        first = conn.execute(text("SELECT min(valid_from) FROM units")).scalar()
        raise NotFound(
            f"no {level} boundaries were in force at {at.isoformat()}; the earliest are from "
            f"{first.isoformat() if first else 'never (the district is not loaded)'}"
        )
    features = [_feature(r, exposure, own) for r in rows]
    members = {"level": level, "as_of": at.isoformat()}
    if as_of is None:
        members["layer_etag"] = current_layer_etag(conn)
    return {"type": "FeatureCollection", **members, "features": features}


def _feature(row, exposure: Exposure = Exposure.MASKED, own: str | None = None) -> dict:
    shown = mask_record("unit_versions", row, exposure, own)  # who changed it: masked
    props = {k: _jsonable(v) for k, v in shown.items() if k != "geometry"}
    if row["valid_to"] is None:
        props["etag"] = unit_etag(row["code"], row["version"])
    return {
        "type": "Feature",
        "id": row["code"],
        "properties": props,
        "geometry": json.loads(row["geometry"]),
    }


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def unit(
    conn: Connection, code: str, exposure: Exposure = Exposure.MASKED, own: str | None = None
) -> dict:
    """The current version of unit `code` as a Feature (its `etag` in the properties);
    NotFound says what became of a retired one."""
    row = (
        conn.execute(
            text(
                "SELECT code, level, parent_code, name_zh, name_en, version, valid_from, "
                "valid_to, reason, changed_by, change_id, "
                "ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 7) AS geometry "
                "FROM units WHERE code = :code ORDER BY version DESC LIMIT 1"
            ),
            {"code": code},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no unit with code {code}; GET /api/boundaries lists them")
    if row["valid_to"] is not None:
        succ = conn.execute(
            text("SELECT successor_code FROM units WHERE code = :c AND version = :v"),
            {"c": code, "v": row["version"]},
        ).scalar()
        raise NotFound(
            f"unit {code} was retired at {row['valid_to']:%Y-%m-%d %H:%M}"
            + (f"; its area is now in {succ}" if succ else "")
            + f". Its history: GET /api/boundaries/units/{code}/history",
            successor=succ,
        )
    return _feature(row, exposure, own)


def history(
    conn: Connection, code: str, exposure: Exposure = Exposure.MASKED, own: str | None = None
) -> dict:
    """Every version of unit (or courtyard) `code`, oldest first, with the change that
    wrote it (kind, reason, who) and, for a retired one, its successor."""
    table = "courtyards" if "Y" in code else "units"
    level = "'courtyard'" if table == "courtyards" else "t.level"
    rows = (
        conn.execute(
            text(
                f"SELECT t.code, {level} AS level, t.name_zh, t.name_en, t.version, "
                "t.valid_from, t.valid_to, t.reason, t.changed_by, t.change_id, "
                "t.successor_code, c.kind AS change_kind, "
                "ST_AsGeoJSON(ST_ForcePolygonCCW(t.geom), 7) AS geometry "
                f"FROM {table} t LEFT JOIN boundary_changes c ON c.id = t.change_id "
                "WHERE t.code = :code ORDER BY t.version"
            ),
            {"code": code},
        )
        .mappings()
        .all()
    )
    if not rows:
        raise NotFound(f"no unit or courtyard with code {code}")
    features = [_feature(r, exposure, own) for r in rows]
    return {"type": "FeatureCollection", "code": code, "features": features}


def changes(
    conn: Connection,
    limit: int = 50,
    offset: int = 0,
    exposure: Exposure = Exposure.MASKED,
    own: str | None = None,
) -> list[dict]:
    """The boundary change log, newest first; actors masked unless `exposure` says not."""
    rows = conn.execute(
        text(
            "SELECT id, at, actor, kind, reason, summary FROM boundary_changes "
            "ORDER BY id DESC LIMIT :limit OFFSET :offset"
        ),
        {"limit": limit, "offset": offset},
    ).mappings()
    return [
        {k: _jsonable(v) for k, v in mask_record("boundary_changes", r, exposure, own).items()}
        for r in rows
    ]


def change(
    conn: Connection, change_id: int, exposure: Exposure = Exposure.MASKED, own: str | None = None
) -> dict:
    """One change: its log entry (actor masked unless `exposure` says not), and the
    versions it closed and opened (with geometry)."""
    row = (
        conn.execute(
            text(
                "SELECT id, at, actor, kind, reason, summary FROM boundary_changes WHERE id = :id"
            ),
            {"id": change_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no boundary change #{change_id}; GET /api/boundaries/changes lists them")
    versions = conn.execute(
        text(
            """SELECT code, level, name_zh, version, valid_from, valid_to, successor_code,
                      ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 7) AS geometry,
                      CASE WHEN change_id = :id THEN 'after' ELSE 'before' END AS side
               FROM units
               WHERE change_id = :id OR valid_to = :at
               ORDER BY code, version"""
        ),
        {"id": change_id, "at": row["at"]},
    ).mappings()
    sides: dict[str, list] = {"before": [], "after": []}
    for v in versions:
        sides[v["side"]].append(_feature(v))
    out = {k: _jsonable(v) for k, v in mask_record("boundary_changes", row, exposure, own).items()}
    out["before"] = {"type": "FeatureCollection", "features": sides["before"]}
    out["after"] = {"type": "FeatureCollection", "features": sides["after"]}
    return out


def counts_as_of(
    conn: Connection,
    table: str,
    level: str,
    at: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    time_column: str = "observed_at",
) -> pd.DataFrame:
    """How many points of `table` lie in each unit of `level` as the boundaries were at
    `at` (edge rule: lowest code wins), optionally only those with `time_column` in
    [start, end): statistics of a past period on the boundaries valid then. Columns: code,
    name_zh, count (units with none included)."""
    if table not in POINT_TABLES:
        raise InvalidInput(f"not a point table: {table}")
    if level not in LEVELS[:-1]:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS[:-1])}")
    period = ""
    if start is not None:
        period += f" AND t.{time_column} >= :start"
    if end is not None:
        period += f" AND t.{time_column} < :end"
    points = f"(SELECT t.id, t.geom FROM {table} t WHERE t.geom IS NOT NULL {period})"
    column = {"sector": "sector_code", "grid2": "grid2_code", "community": "community_code"}
    # the attach edge rule, on the boundaries valid at :at
    sql = f"""
        WITH u AS (SELECT code, name_zh FROM ({UNITS_AS_OF}) a WHERE level = :level),
        hit AS ({codes_sql(points, courtyards=False, as_of=True)})
        SELECT u.code, u.name_zh, count(hit.id) AS count
        FROM u LEFT JOIN hit ON hit.{column[level]} = u.code
        GROUP BY u.code, u.name_zh ORDER BY u.code
    """
    return pd.read_sql(
        text(sql), conn, params={"at": at, "level": level, "start": start, "end": end}
    )
