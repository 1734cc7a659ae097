"""Reading point entities as pages of GeoJSON, and one unit with its counts.

Lists are filtered by unit (community, grid, sector, courtyard), bounding box, category or
kind and time, ordered by id and paged by keyset (`after` = the last id of the previous
page). What a caller sees depends on who they are: grid workers only their own grids'
households and residents, key-population incidents only where `incident_visibility` allows,
and personal fields masked for everyone but admins — whose reads of unmasked personal
data are written to the audit log.

    >>> page = list_features(conn, "businesses", principal, Filters(kind="shop"), limit=2)
    >>> [f["id"] for f in page.features], page.next_after                 # doctest: +SKIP
    (['S00001', 'S00002'], 'S00002')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access import audit
from geo.access.privacy import (
    PERSONAL_FIELDS,
    exposure,
    mask_record,
    mask_records,
    sql_no_member_points,
)
from geo.access.roles import Principal, Role, incident_visibility, scope_filter
from geo.core.errors import InvalidInput, NotFound
from geo.core.models import METRIC_SRID
from geo.core.settings import get_settings
from geo.core.terms import BEIJING, CLOSED_SQL, LABELS

CODES = ("courtyard_code", "sector_code", "grid2_code", "community_code")


@dataclass(frozen=True)
class Entity:
    """How one kind is read: its FROM clause (alias `x` carries id; `g` the geometry and
    codes), the properties selected, and which filters apply."""

    source: str
    properties: tuple[str, ...]
    geo: str = "x"  # the alias holding geom and the attach codes
    category: str | None = None  # column `category=` filters
    kind: str | None = None  # column `kind=` filters
    time: str | None = None  # column `since=`/`until=` filter
    status: bool = False


ENTITIES: dict[str, Entity] = {
    "households": Entity(
        "households x",
        ("address", "building", "unit_no", "room", "updated_at"),
    ),
    "residents": Entity(
        "residents x JOIN households g ON g.id = x.household_id",
        ("household_id", "name", "gender", "birth_date", "relation", "phone", "id_number"),
        geo="g",
    ),
    "businesses": Entity(
        "businesses x",
        ("name_zh", "name_en", "kind", "category", "address"),
        category="category",
        kind="kind",
    ),
    "resources": Entity(
        # active ones: a retired worker or unit (`geo.people.staff`) is history, not a resource
        "(SELECT * FROM resources WHERE retired_at IS NULL) x",
        (
            "kind",
            "subtype",
            "branch_type",
            "name_zh",
            "name_en",
            "parent_id",
            "serves_code",
            "has_party_org",
            "phone",
        ),
        kind="kind",
        category="subtype",
    ),
    "incidents": Entity(
        "incidents x",
        (
            "category",
            "status",
            "description",
            "observed_at",
            "reported_at",
            "reporter_contact",
            "assigned_to",
            "dispatched_at",
            "dispatch_due_at",
            "due_at",
            "resolved_at",
            "closed_at",
            "source",
        ),
        category="category",
        time="observed_at",
        status=True,
    ),
}


@dataclass
class Filters:
    community: str | None = None
    grid: str | None = None
    sector: str | None = None
    courtyard: str | None = None
    bbox: str | None = None
    category: str | None = None
    kind: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Page:
    features: list[dict]
    next_after: str | None
    limit: int
    filters: dict = field(default_factory=dict)


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """`minLon,minLat,maxLon,maxLat` (WGS 84) as four floats, or InvalidInput."""
    parts = value.split(",")
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4:
        raise InvalidInput(
            f"bbox {value!r} should be minLon,minLat,maxLon,maxLat (four numbers, WGS 84)",
            field="bbox",
        )
    x0, y0, x1, y1 = box
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        hint = " (did you swap lon/lat?)" if abs(y0) > 90 or abs(y1) > 90 else ""
        raise InvalidInput(
            f"bbox {value!r} is not minLon < maxLon, minLat < maxLat within -180..180, "
            f"-90..90{hint}",
            field="bbox",
        )
    return box


def _utc(moment: datetime) -> datetime:
    """Naive times are Beijing time, as in imports."""
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def _check_codes(conn: Connection, filters: Filters) -> None:
    for name, level in (
        ("community", "community"),
        ("grid", None),
        ("sector", "sector"),
    ):
        code = getattr(filters, name)
        if code is None:
            continue
        found = conn.execute(
            text("SELECT level FROM units WHERE code = :c AND valid_to IS NULL"), {"c": code}
        ).scalar()
        wanted = {"community", "grid2"} if level is None else {level}
        if found not in wanted:
            raise InvalidInput(
                f"{name}={code!r} is not the code of a current {' or '.join(sorted(wanted))}",
                field=name,
            )
    if filters.courtyard is not None:
        found = conn.execute(
            text("SELECT 1 FROM courtyards WHERE code = :c AND valid_to IS NULL"),
            {"c": filters.courtyard},
        ).scalar()
        if not found:
            raise InvalidInput(
                f"courtyard={filters.courtyard!r} is not the code of a current courtyard",
                field="courtyard",
            )


def _where(kind: str, principal: Principal, filters: Filters) -> tuple[list[str], dict]:
    """The conditions (SQL over the entity `x` and its place) of a listing, with their
    parameters: the filters, then what the caller may see."""
    entity = ENTITIES[kind]
    where, params = ["TRUE"], {}
    g = entity.geo
    for name, column in (
        ("community", "community_code"),
        ("sector", "sector_code"),
        ("courtyard", "courtyard_code"),
    ):
        if getattr(filters, name) is not None:
            where.append(f"{g}.{column} = :{name}")
            params[name] = getattr(filters, name)
    if filters.grid is not None:
        where.append(f"({g}.grid2_code = :grid OR {g}.community_code = :grid)")
        params["grid"] = filters.grid
    if filters.bbox is not None:
        params.update(zip(("x0", "y0", "x1", "y1"), parse_bbox(filters.bbox), strict=True))
        where.append(f"{g}.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
    for name, column in (("category", entity.category), ("kind", entity.kind)):
        value = getattr(filters, name)
        if value is None:
            continue
        if column is None:
            raise InvalidInput(f"{kind} have no {name} to filter by", field=name)
        where.append(f"x.{column} = :{name}")
        params[name] = value
    if filters.status is not None:
        if not entity.status:
            raise InvalidInput(f"{kind} have no status to filter by", field="status")
        where.append("x.status = :status")
        params["status"] = filters.status
    for name, op in (("since", ">="), ("until", "<")):
        value = getattr(filters, name)
        if value is None:
            continue
        if entity.time is None:
            raise InvalidInput(f"{kind} have no time to filter by ({name})", field=name)
        where.append(f"x.{entity.time} {op} :{name}")
        params[name] = _utc(value)
    if kind in ("households", "residents") and (
        principal.only(Role.GRID_WORKER) or principal.scope_codes
    ):
        own, scope = scope_filter(principal, f"{g}.sector_code")
        where.append(own)
        params.update(scope)
    if kind == "resources" and not principal.sees_personal_data:
        where.append(sql_no_member_points("x"))  # party members: counts per unit only
    if kind == "incidents":
        visible, scope = incident_visibility(principal, "x")
        where.append(visible)
        params.update(scope)
    return where, params


def list_features(
    conn: Connection,
    kind: str,
    principal: Principal,
    filters: Filters,
    after: str | None = None,
    limit: int = 100,
) -> Page:
    """One page of `kind` as GeoJSON features (id = the entity's id), ordered by id after
    `after`; `next_after` is set when there may be more. Access rules, masking and the
    audit of unmasked personal data are applied here."""
    entity = ENTITIES[kind]
    limit = max(1, min(int(limit), get_settings().page_limit))
    _check_codes(conn, filters)
    where, params = _where(kind, principal, filters)
    params["limit"] = limit + 1
    g = entity.geo
    if after is not None:
        where.append("x.id > :after")
        params["after"] = after
    columns = ", ".join(f"x.{p}" for p in entity.properties)
    codes = ", ".join(f"{g}.{c}" for c in CODES)
    rows = (
        conn.execute(
            text(
                f"SELECT x.id, {columns}, {codes}, ST_X({g}.geom) AS lon, ST_Y({g}.geom) AS lat "
                f"FROM {entity.source} WHERE {' AND '.join(where)} ORDER BY x.id LIMIT :limit"
            ),
            params,
        )
        .mappings()
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    records = mask_records(kind, rows, exposure(principal))
    _audit_personal_reads(conn, kind, principal, records, filters)
    features = [_feature(r) for r in records]
    return Page(features, rows[-1]["id"] if more else None, limit)


def _audit_personal_reads(conn, kind, principal, records, filters) -> None:
    fields = PERSONAL_FIELDS.get(kind)
    if not (principal.sees_personal_data and fields and records):
        return
    exposed = [r["id"] for r in records if mask_record(kind, r) != r]
    if exposed:
        audit.record(
            conn,
            principal,
            "read_personal_data",
            target=kind,
            detail={
                "ids": exposed,
                "fields": sorted(fields),
                "filters": {k: v for k, v in vars(filters).items() if v is not None},
            },
        )


def _feature(record: dict) -> dict:
    lon, lat = record.pop("lon"), record.pop("lat")
    geometry = None
    if lon is not None and lat is not None:
        geometry = {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}
    identifier = record.pop("id")
    return {"type": "Feature", "id": identifier, "geometry": geometry, "properties": record}


# -- one unit ---------------------------------------------------------------------------

_COUNT_COLUMN = {
    "district": None,
    "community": "community_code",
    "grid2": "grid2_code",
    "sector": "sector_code",
    "courtyard": "courtyard_code",
}
#: incidents carry no index on their level-2 grid and community codes (0019e): a unit
#: above the sector counts them by its current sectors, through the sector code's index
_SECTORS_UNDER = (
    "sector_code = ANY(ARRAY(SELECT s.code FROM units s WHERE s.level = 'sector' "
    "AND s.valid_to IS NULL AND (s.parent_code = :code OR s.parent_code IN ("
    "SELECT g.code FROM units g WHERE g.parent_code = :code AND g.valid_to IS NULL))))"
)


def _unit_counts(conn: Connection, code: str, level: str) -> dict:
    """What lies in a unit: households, residents, incidents (open ones too), businesses
    and resources (by kind)."""
    column = _COUNT_COLUMN[level]
    inside = f"{column} = :code" if column else "TRUE"
    in_household = f"h.{column} = :code" if column else "TRUE"  # the district: no column
    in_incidents = _SECTORS_UNDER if level in ("grid2", "community") else inside
    counts = dict(
        conn.execute(
            text(
                f"""
                SELECT
                  (SELECT count(*) FROM households WHERE {inside}) AS households,
                  (SELECT count(*) FROM residents r JOIN households h ON h.id = r.household_id
                    WHERE {in_household}) AS residents,
                  (SELECT count(*) FROM incidents WHERE {in_incidents}) AS incidents,
                  (SELECT count(*) FROM incidents WHERE {in_incidents}
                    AND status NOT IN {CLOSED_SQL}) AS open_incidents
                """
            ),
            {"code": code},
        )
        .mappings()
        .one()
    )
    for table in ("businesses", "resources"):
        by_kind = conn.execute(
            text(
                f"SELECT kind, count(*) FROM {table} WHERE {inside}"
                f"{' AND retired_at IS NULL' if table == 'resources' else ''} "
                "GROUP BY kind ORDER BY kind"
            ),
            {"code": code},
        ).all()
        counts[table] = sum(n for _, n in by_kind)
        counts[f"{table}_by_kind"] = dict(by_kind)
    return counts


def unit_detail(conn: Connection, code: str) -> dict:
    """A current unit or courtyard as a GeoJSON feature (id = its code) with its level,
    names, parent, children, area in km² (EPSG:4542) and the counts of what lies in it:
    households, residents, businesses and resources by kind, incidents and open incidents."""
    unit = (
        conn.execute(
            text(
                f"""
                SELECT code, level, parent_code, name_zh, name_en, version, valid_from,
                       NULL AS kind, NULL AS sector_code, NULL AS grid2_code,
                       NULL AS community_code,
                       ST_Area(ST_Transform(geom, {METRIC_SRID})) / 1e6 AS area_km2,
                       ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 7) AS geometry
                FROM units WHERE code = :code AND valid_to IS NULL
                UNION ALL
                SELECT code, 'courtyard', sector_code, name_zh, name_en, version, valid_from,
                       kind, sector_code, grid2_code, community_code,
                       ST_Area(ST_Transform(geom, {METRIC_SRID})) / 1e6,
                       ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 7)
                FROM courtyards WHERE code = :code AND valid_to IS NULL
                """
            ),
            {"code": code},
        )
        .mappings()
        .first()
    )
    if unit is None:
        raise NotFound(f"no current unit or courtyard with code {code!r}")
    counts = _unit_counts(conn, code, unit["level"])
    children = (
        conn.execute(
            text(
                "SELECT code FROM units WHERE parent_code = :code AND valid_to IS NULL "
                "UNION ALL SELECT code FROM courtyards WHERE sector_code = :code "
                "AND valid_to IS NULL ORDER BY 1"
            ),
            {"code": code},
        )
        .scalars()
        .all()
    )
    level = unit["level"]
    properties = {
        "level": level,
        "level_zh": "小区楼院" if level == "courtyard" else LABELS[level][0],
        "name_zh": unit["name_zh"],
        "name_en": unit["name_en"],
        "parent_code": unit["parent_code"],
        "children": children,
        "version": unit["version"],
        "valid_from": unit["valid_from"],
        "area_km2": round(unit["area_km2"], 4),
        "counts": counts,
    }
    if level == "courtyard":
        properties.update(
            kind=unit["kind"],
            sector_code=unit["sector_code"],
            grid2_code=unit["grid2_code"],
            community_code=unit["community_code"],
        )
    return {
        "type": "Feature",
        "id": unit["code"],
        "geometry": json.loads(unit["geometry"]),
        "properties": properties,
    }
