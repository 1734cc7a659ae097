"""OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) over the district's layers.

Each collection is a declared view of one table: its id column, published properties, the
property filters it accepts, its time column, and the permission needed. Items are built
as GeoJSON inside PostgreSQL (one statement for the page, one for `numberMatched`), with
personal fields masked in SQL for non-admins (`geo.access.privacy.sql_masked`) and incidents
restricted by `geo.access.roles.incident_visibility`. Residents and households are not published.

    >>> page = items(conn, principal, "sectors", limit=10)   # doctest: +SKIP
    >>> page.number_matched, page.features_json[:30]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.privacy import exposure, sql_masked, sql_no_member_points
from geo.access.roles import Permission, Principal, incident_visibility
from geo.core.errors import BadQuery, InvalidInput, NotFound
from geo.publish.listing import ENTITIES, parse_bbox

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
#: the `limit` of a page's `next` link is at least this: GDAL before 3.7 asks for pages of
#: 10 (`-oo PAGE_SIZE` overrides) and then follows `next`, so its later pages come at this
#: size (25,000 incidents: 45 s at 10 per page, about 2 s at 1,000)
NEXT_PAGE_MIN_LIMIT = 1000
#: query parameters every items request may carry besides the property filters
STANDARD_PARAMS = frozenset({"limit", "offset", "bbox", "datetime", "f"})


@dataclass(frozen=True)
class Collection:
    id: str
    title_zh: str
    title_en: str
    description: str
    table: str
    properties: tuple[str, ...]
    permission: Permission
    id_column: str = "id"
    where: str = "TRUE"
    #: property filters: query parameter → column
    filters: dict[str, str] = field(default_factory=dict)
    #: a time column for `datetime`, or "versions" for units valid at an instant
    temporal: str | None = None
    #: record kind for masking personal fields, if any
    personal: str | None = None


_UNIT_PROPS = (
    "code",
    "level",
    "parent_code",
    "seq",
    "name_zh",
    "name_en",
    "version",
    "valid_from",
    "valid_to",
)
_UNIT_FILTERS = {"code": "code", "parent_code": "parent_code", "name_zh": "name_zh"}
_ATTACHED = {
    "courtyard_code": "courtyard_code",
    "sector_code": "sector_code",
    "grid2_code": "grid2_code",
    "community_code": "community_code",
}

COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in [
        Collection(
            "communities",
            "社区(一级网格)",
            "Communities (level-1 grids)",
            "The three communities of Xibeijie, each a level-1 grid.",
            "units",
            _UNIT_PROPS,
            Permission.READ_UNITS,
            "code",
            "t.level = 'community'",
            _UNIT_FILTERS,
            "versions",
        ),
        Collection(
            "grids",
            "二级网格",
            "Level-2 grids",
            "The twelve level-2 grids.",
            "units",
            _UNIT_PROPS,
            Permission.READ_UNITS,
            "code",
            "t.level = 'grid2'",
            _UNIT_FILTERS,
            "versions",
        ),
        Collection(
            "sectors",
            "网格片区",
            "Grid sectors",
            "The 22 grid sectors, the finest grid level.",
            "units",
            _UNIT_PROPS,
            Permission.READ_UNITS,
            "code",
            "t.level = 'sector'",
            _UNIT_FILTERS,
            "versions",
        ),
        Collection(
            "courtyards",
            "小区楼院",
            "Courtyards",
            "Property-managed compounds, scattered buildings and rental housing.",
            "courtyards",
            (
                "code",
                "name_zh",
                "name_en",
                "kind",
                "property_company_id",
                "sector_code",
                "grid2_code",
                "community_code",
                "version",
                "valid_from",
                "valid_to",
            ),
            Permission.READ_UNITS,
            "code",
            "TRUE",
            {"code": "code", "kind": "kind", **_ATTACHED},
            "versions",
        ),
        Collection(
            "businesses",
            "企事业单位与商业门店",
            "Businesses",
            "Shops, enterprises and public institutions.",
            "businesses",
            (*ENTITIES["businesses"].properties, *_ATTACHED),
            Permission.READ_PLACES,
            filters={"kind": "kind", "category": "category", **_ATTACHED},
        ),
        Collection(
            "resources",
            "治理资源",
            "Governance resources",
            "Grid workers, officers, party organisations and members, co-building units, "
            "property companies; people's names and phones masked but for admins.",
            "resources",
            (*ENTITIES["resources"].properties, *_ATTACHED),
            Permission.READ_PLACES,
            where="t.geom IS NOT NULL AND t.retired_at IS NULL",
            filters={
                "kind": "kind",
                "subtype": "subtype",
                "serves_code": "serves_code",
                **_ATTACHED,
            },
            personal="resources",
        ),
        Collection(
            "incidents",
            "事件",
            "Incidents",
            "Reported incidents and their state; key-population cases only for those who "
            "may see them.",
            "incidents",
            (*ENTITIES["incidents"].properties, *_ATTACHED),
            Permission.READ_INCIDENTS,
            filters={"category": "category", "status": "status", **_ATTACHED},
            temporal="observed_at",
            personal="incidents",
        ),
    ]
}
COVERAGE = Collection(
    "coverage",
    "网格覆盖",
    "Coverage",
    "Every unit (sector, level-2 grid, community) with its coverage metrics for the last year.",
    "units",
    (),
    Permission.READ_COVERAGE,
    "code",
    filters={"level": "level", "code": "code"},
)
ALL_COLLECTIONS = {**COLLECTIONS, COVERAGE.id: COVERAGE}


def visible_collections(principal: Principal) -> list[Collection]:
    return [c for c in ALL_COLLECTIONS.values() if principal.can(c.permission)]


def collection(principal: Principal, collection_id: str) -> Collection:
    """The collection, or NotFound (also when the caller may not read it: no existence leak)."""
    found = ALL_COLLECTIONS.get(collection_id)
    if found is None or not principal.can(found.permission):
        names = ", ".join(c.id for c in visible_collections(principal))
        raise NotFound(f"no collection {collection_id!r}; collections: {names}")
    return found


def extent(conn: Connection, c: Collection) -> dict:
    """Spatial extent (the sub-district's bounds) and, for incidents, the time span."""
    box = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) e FROM units WHERE level = 'district' "
            "AND valid_to IS NULL) s"
        )
    ).one()
    out = {"spatial": {"bbox": [[round(v, 7) for v in box]], "crs": CRS84}}
    if c.temporal and c.temporal != "versions":
        span = conn.execute(text(f"SELECT min({c.temporal}), max({c.temporal}) FROM {c.table}"))
        lo, hi = span.one()
        out["temporal"] = {"interval": [[_iso(lo), _iso(hi)]]}
    return out


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@dataclass
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    filters: dict[str, str] = field(default_factory=dict)


def parse_query(c: Collection, params: dict[str, str]) -> ItemsQuery:
    """Validate the items query string: unknown parameters, limits, bbox and datetime are
    refused with a reason (400 in OGC terms)."""
    unknown = sorted(set(params) - STANDARD_PARAMS - set(c.filters))
    if unknown:
        allowed = sorted(STANDARD_PARAMS | set(c.filters))
        raise BadQuery(
            f"unknown query parameter(s) {', '.join(unknown)}; "
            f"this collection takes: {', '.join(allowed)}"
        )
    q = ItemsQuery(filters={k: v for k, v in params.items() if k in c.filters})
    try:
        q.limit = min(int(params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        q.offset = int(params.get("offset", 0))
    except ValueError:
        raise BadQuery("limit and offset must be whole numbers") from None
    if q.limit < 1 or q.offset < 0:
        raise BadQuery("limit must be at least 1 and offset at least 0")
    if "bbox" in params:
        value = params["bbox"]
        parts = value.split(",")
        if len(parts) == 6:  # minLon,minLat,minZ,maxLon,maxLat,maxZ: heights do not apply
            value = ",".join(parts[0:2] + parts[3:5])
        try:
            q.bbox = parse_bbox(value)
        except InvalidInput as exc:
            raise BadQuery(exc.detail) from None
    q.datetime = params.get("datetime")
    return q


def _datetime_clause(c: Collection, value: str, params: dict) -> str:
    """`datetime` as an instant or an interval (`a/b`, `../b`, `a/..`)."""

    def parse(v: str) -> datetime | None:
        if v in ("..", ""):
            return None
        try:
            return datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise BadQuery(f"datetime {v!r} is not RFC 3339 (e.g. 2026-05-01T00:00:00Z)") from None

    if c.temporal is None:
        raise BadQuery(f"collection {c.id!r} has no time dimension; drop datetime")
    if "/" in value:
        lo, hi = (parse(v) for v in value.split("/", 1))
        if c.temporal == "versions":
            params.update(
                lo=lo or datetime.min.replace(tzinfo=UTC), hi=hi or datetime.max.replace(tzinfo=UTC)
            )
            return "t.valid_from <= :hi AND (t.valid_to IS NULL OR t.valid_to > :lo)"
        clauses = []
        if lo:
            clauses.append(f"t.{c.temporal} >= :lo")
            params["lo"] = lo
        if hi:
            clauses.append(f"t.{c.temporal} <= :hi")
            params["hi"] = hi
        return " AND ".join(clauses) or "TRUE"
    at = parse(value)
    if at is None:
        raise BadQuery("datetime needs an instant or an interval")
    params["at"] = at
    if c.temporal == "versions":
        return "t.valid_from <= :at AND (t.valid_to IS NULL OR t.valid_to > :at)"
    return f"t.{c.temporal} = :at"


def _where(principal: Principal, c: Collection, q: ItemsQuery) -> tuple[str, dict]:
    clauses, params = [c.where], {}
    if c.temporal == "versions" and not q.datetime:
        clauses.append("t.valid_to IS NULL")
    if q.datetime:
        clauses.append(_datetime_clause(c, q.datetime, params))
    if q.bbox:
        clauses.append(
            "t.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) AND "
            "ST_Intersects(t.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))"
        )
        params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
    for i, (name, value) in enumerate(sorted(q.filters.items())):
        clauses.append(f"t.{c.filters[name]} = :f{i}")
        params[f"f{i}"] = value
    if c.id == "resources" and not principal.sees_personal_data:
        clauses.append(sql_no_member_points("t"))  # party members: counts per unit only
    if c.id == "incidents":
        visible, extra = incident_visibility(principal, "t")
        clauses.append(visible)
        params.update(extra)
    return " AND ".join(f"({x})" for x in clauses), params


def _property_sql(principal: Principal, c: Collection) -> str:
    parts = []
    for prop in c.properties:
        expr = f"t.{prop}"
        if c.personal and not principal.sees_personal_data:
            expr = sql_masked(c.personal, prop, level=exposure(principal))
        parts.append(f"'{prop}', {expr}")
    return ", ".join(parts)


@dataclass
class ItemsPage:
    number_matched: int
    number_returned: int
    features_json: str  # a JSON array of GeoJSON features, built by the database
    query: ItemsQuery


def items(
    conn: Connection, principal: Principal, collection_id: str, params: dict[str, str] | None = None
) -> ItemsPage:
    """One page of a collection's features, filtered and ordered by id."""
    c = collection(principal, collection_id)
    q = parse_query(c, params or {})
    if c.id == "coverage":
        return _coverage_items(conn, principal, q)
    where, bind = _where(principal, c, q)
    matched = conn.execute(text(f"SELECT count(*) FROM {c.table} t WHERE {where}"), bind)
    props = _property_sql(principal, c)
    # the page's keys first (an index scan that skips `offset` rows without reading them
    # whole), then the features of those rows only
    sql = f"""
        SELECT coalesce(json_agg(json_build_object(
                   'type', 'Feature', 'id', page.fid,
                   'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(t.geom), 7)::json,
                   'properties', json_build_object({props})) ORDER BY page.fid), '[]'::json)::text,
               count(*)
        FROM (SELECT t.id, t.{c.id_column} AS fid FROM {c.table} t WHERE {where}
              ORDER BY t.{c.id_column} LIMIT :limit OFFSET :offset) page
        JOIN {c.table} t ON t.id = page.id
    """
    features, returned = conn.execute(
        text(sql), {**bind, "limit": q.limit, "offset": q.offset}
    ).one()
    return ItemsPage(matched.scalar_one(), returned, features, q)


def item(conn: Connection, principal: Principal, collection_id: str, feature_id: str) -> str:
    """One feature as GeoJSON text, or NotFound."""
    c = collection(principal, collection_id)
    if c.id == "coverage":
        page = _coverage_items(
            conn, principal, ItemsQuery(limit=MAX_LIMIT, filters={"code": feature_id})
        )
        found = json.loads(page.features_json)
        if not found:
            raise NotFound(f"no unit {feature_id!r} in coverage")
        return json.dumps(found[0], ensure_ascii=False, default=str)
    where, bind = _where(principal, c, ItemsQuery())
    row = conn.execute(
        text(f"""
        SELECT json_build_object('type', 'Feature', 'id', t.{c.id_column},
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(t.geom), 7)::json,
               'properties', json_build_object({_property_sql(principal, c)}))::text
        FROM {c.table} t WHERE {where} AND t.{c.id_column} = :fid"""),
        {**bind, "fid": feature_id},
    ).first()
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection_id}")
    return row[0]


def _coverage_items(conn: Connection, principal: Principal, q: ItemsQuery) -> ItemsPage:
    """Coverage rows of every level as features (geometry from the units)."""
    from geo.insight.coverage import LEVELS, coverage

    if q.datetime or q.bbox:
        raise BadQuery("coverage takes level and code filters, not datetime or bbox")
    levels = [q.filters["level"]] if "level" in q.filters else list(LEVELS)
    if any(level not in LEVELS for level in levels):
        raise BadQuery(f"level must be one of: {', '.join(LEVELS)}")
    rows = [dict(r, level=level) for level in levels for r in coverage(conn, principal, level).rows]
    if "code" in q.filters:
        rows = [r for r in rows if r["code"] == q.filters["code"]]
    rows.sort(key=lambda r: r["code"])
    page = rows[q.offset : q.offset + q.limit]
    geoms = dict(
        conn.execute(
            text(
                "SELECT code, ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 7) FROM units "
                "WHERE valid_to IS NULL AND code = ANY(:c)"
            ),
            {"c": [r["code"] for r in page]},
        ).all()
    )
    features = []
    for r in page:
        props = {k: v for k, v in r.items() if k not in ("incidents_by_category", "flags")}
        props["flags"] = ",".join(f["flag"] for f in r["flags"])
        features.append(
            {
                "type": "Feature",
                "id": r["code"],
                "geometry": json.loads(geoms[r["code"]]),
                "properties": props,
            }
        )
    return ItemsPage(len(rows), len(page), json.dumps(features, ensure_ascii=False, default=str), q)


#: JSON Schema type (and format) of a column, from its SQLAlchemy type's Python type
_JSON_TYPES = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    "Decimal": {"type": "number"},
    datetime: {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}


def _column_schema(c: Collection, prop: str, principal: Principal) -> dict:
    from geo.core.models import Base

    if (
        c.personal
        and not principal.sees_personal_data
        and sql_masked(c.personal, prop) != (f"t.{prop}")
    ):
        return {"type": "string"}  # masked: "张*" rather than the column's own type
    column = Base.metadata.tables[c.table].columns.get(prop)
    if column is None:
        return {"type": "string"}
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return {"type": "string"}
    return dict(
        _JSON_TYPES.get(python_type) or _JSON_TYPES.get(python_type.__name__) or {"type": "string"}
    )


def _coverage_properties(conn: Connection, principal: Principal) -> dict[str, dict]:
    """The coverage features' properties, typed from one computed feature."""
    page = _coverage_items(conn, principal, ItemsQuery(limit=1))
    sample = json.loads(page.features_json)
    props = sample[0]["properties"] if sample else {}
    kinds = {bool: "boolean", int: "integer", float: "number"}
    return {
        name: {"title": name, "type": kinds.get(type(value), "string")}
        for name, value in props.items()
    }


def properties_schema(
    conn: Connection, principal: Principal, collection_id: str
) -> dict[str, dict]:
    """Each published property of a collection → its JSON Schema (type and format)."""
    c = collection(principal, collection_id)
    if c.id == "coverage":
        return _coverage_properties(conn, principal)
    return {prop: {"title": prop, **_column_schema(c, prop, principal)} for prop in c.properties}


def queryables(conn: Connection, principal: Principal, collection_id: str, url: str) -> dict:
    """OGC API – Features Part 3: the properties the items request filters on, typed."""
    c = collection(principal, collection_id)
    props = properties_schema(conn, principal, collection_id)
    queryable = {name: props.get(name, {"type": "string"}) for name in sorted(c.filters)}
    queryable["geometry"] = {"$ref": "https://geojson.org/schema/Geometry.json"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": f"{c.title_zh} {c.title_en}",
        "properties": queryable,
        "additionalProperties": False,
    }


def feature_schema(conn: Connection, principal: Principal, collection_id: str, url: str) -> dict:
    """The collection's features as a JSON Schema (a GeoJSON Feature whose `properties` are
    typed): GDAL and QGIS read field types from it (the collection's `describedby` link)."""
    c = collection(principal, collection_id)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "title": f"{c.title_zh} {c.title_en}",
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
            "properties": {
                "type": "object",
                "properties": properties_schema(conn, principal, collection_id),
            },
        },
    }


#: the query and path parameters of the OGC endpoints, by name
_OGC_PARAMS = {
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
        },
    },
    "offset": {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    "bbox": {
        "name": "bbox",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
    },
    "datetime": {
        "name": "datetime",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
    },
    "f": {"name": "f", "in": "query", "schema": {"type": "string", "enum": ["json", "html"]}},
    "featureId": {
        "name": "featureId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    },
}

_OK = {
    "200": {"description": "OK"},
    "400": {"description": "Bad query"},
    "401": {"description": "Authentication required"},
    "404": {"description": "Not found"},
}


def _get(summary: str, operation: str, parameters: list[str] | None = None) -> dict:
    """One GET operation answering the usual statuses."""
    operation_ = {"summary": summary, "operationId": operation, "responses": _OK}
    if parameters is not None:
        operation_["parameters"] = [_OGC_PARAMS[p] for p in parameters]
    return {"get": operation_}


def _collection_paths(c) -> dict:
    """The paths of one collection: description, items, queryables, schema, one item."""
    filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in sorted(c.filters)
    ]
    items = _get(
        f"{c.title_en}: features", f"items_{c.id}", ["limit", "offset", "bbox", "datetime", "f"]
    )
    items["get"]["parameters"] += filters
    paths = {
        f"/collections/{c.id}": _get(c.title_en, f"describe_{c.id}", ["f"]),
        f"/collections/{c.id}/items": items,
    }
    for part, summary in (("queryables", "queryables"), ("schema", "feature schema")):
        paths[f"/collections/{c.id}/{part}"] = _get(
            f"{c.title_en}: {summary} (JSON Schema)", f"{part}_{c.id}"
        )
    paths[f"/collections/{c.id}/items/{{featureId}}"] = _get(
        f"{c.title_en}: one feature", f"item_{c.id}", ["featureId", "f"]
    )
    return paths


def openapi_document(base_url: str) -> dict:
    """The OpenAPI 3.0 description of the OGC endpoints (the landing page's service-desc)."""
    base = base_url.rstrip("/")
    paths = {
        "/": _get("Landing page", "getLandingPage", ["f"]),
        "/conformance": _get("Conformance classes", "getConformance", ["f"]),
        "/collections": _get("Collections", "getCollections", ["f"]),
    }
    for c in ALL_COLLECTIONS.values():
        paths.update(_collection_paths(c))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gridmap OGC API – Features",
            "version": "1.0.0",
            "description": "西北街街道网格化管理: the district's layers for GIS clients.",
        },
        "servers": [{"url": base}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
