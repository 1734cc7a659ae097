"""Attach: the courtyard, sector, level-2 grid and community every point lies in.

The edge rule. A point on a border shared by two or more units (an edge or a vertex) is
covered by all of them (`ST_Covers` includes the boundary); it goes to the one with the
lowest code, so it lands in exactly one unit, never two, never none. Codes run west→east,
north→south, so a border point goes to the unit to its west or north. A point in a hole
of a unit is covered by the unit filling the hole; a point on any part of a multipolygon
unit is covered by that unit. The level-2 grid and community follow from the sector's
parents, so the three codes cannot disagree; the courtyard is found on its own (a point
may lie in no courtyard).

Attach runs in SQL against the current units (GiST-indexed `ST_Covers`), for a whole
table or only for the points inside a changed area.

    >>> moved = attach_points(conn, "incidents")              # doctest: +SKIP
    >>> moved = attach_points(conn, "households", area=wkt)   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: the point tables that carry attach codes
POINT_TABLES = ("households", "businesses", "resources", "incidents")

SECTOR_OF = """(SELECT s.code FROM units s
   WHERE s.valid_to IS NULL AND s.level = 'sector' AND ST_Covers(s.geom, {point})
   ORDER BY s.code LIMIT 1)"""
COURTYARD_OF = """(SELECT c.code FROM courtyards c
   WHERE c.valid_to IS NULL AND ST_Covers(c.geom, {point})
   ORDER BY c.code LIMIT 1)"""


@dataclass
class AttachResult:
    examined: int
    moved: int  # points whose sector or courtyard changed


def attach_points(conn: Connection, table: str, area_wkt: str | None = None) -> AttachResult:
    """Recompute the codes of the points of `table` (all, or those covered by `area_wkt`,
    a WGS 84 geometry); returns how many were examined and how many changed unit."""
    if table not in POINT_TABLES:
        raise ValueError(f"not a point table: {table}")
    where = "p.geom IS NOT NULL"
    params = {}
    if area_wkt is not None:
        where += " AND ST_Covers(ST_GeomFromText(:area, 4326), p.geom)"
        params["area"] = area_wkt
    sql = f"""
        WITH hit AS (
            SELECT p.id,
                   {SECTOR_OF.format(point="p.geom")} AS sector_code,
                   {COURTYARD_OF.format(point="p.geom")} AS courtyard_code
            FROM {table} p WHERE {where}
        ), coded AS (
            SELECT hit.id, hit.courtyard_code, hit.sector_code,
                   s.parent_code AS grid2_code, g.parent_code AS community_code
            FROM hit
            LEFT JOIN units s ON s.code = hit.sector_code AND s.valid_to IS NULL
            LEFT JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL
        ), changed AS (
            UPDATE {table} p SET courtyard_code = coded.courtyard_code,
                   sector_code = coded.sector_code, grid2_code = coded.grid2_code,
                   community_code = coded.community_code
            FROM coded
            WHERE p.id = coded.id AND (p.courtyard_code, p.sector_code, p.grid2_code,
                  p.community_code) IS DISTINCT FROM (coded.courtyard_code, coded.sector_code,
                  coded.grid2_code, coded.community_code)
            RETURNING p.id
        )
        SELECT (SELECT count(*) FROM hit), (SELECT count(*) FROM changed)
    """
    examined, moved = conn.execute(text(sql), params).one()
    return AttachResult(examined=examined, moved=moved)


def attach_courtyards(conn: Connection) -> int:
    """Set each current courtyard's sector (by a point on its surface), grid and community;
    returns how many courtyards changed sector."""
    sql = f"""
        WITH coded AS (
            SELECT c.id, s.code AS sector_code, s.parent_code AS grid2_code,
                   g.parent_code AS community_code
            FROM courtyards c
            LEFT JOIN units s ON s.code = {SECTOR_OF.format(point="ST_PointOnSurface(c.geom)")}
                 AND s.valid_to IS NULL
            LEFT JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL
            WHERE c.valid_to IS NULL
        )
        UPDATE courtyards c SET sector_code = coded.sector_code, grid2_code = coded.grid2_code,
               community_code = coded.community_code
        FROM coded
        WHERE c.id = coded.id AND (c.sector_code, c.grid2_code, c.community_code)
              IS DISTINCT FROM (coded.sector_code, coded.grid2_code, coded.community_code)
    """
    return conn.execute(text(sql)).rowcount


@dataclass(frozen=True)
class Location:
    """Where one point lies: its codes, or (all codes None) its distance outside the district."""

    courtyard_code: str | None
    sector_code: str | None
    grid2_code: str | None
    community_code: str | None
    #: metres from the point to the sub-district (EPSG:4542; geodesic for points far from
    #: its zone); 0 inside, None when no district is loaded
    outside_m: float | None

    @property
    def inside(self) -> bool:
        return self.sector_code is not None


def locate_point(conn: Connection, lon: float, lat: float) -> Location:
    """The courtyard, sector, level-2 grid and community of one WGS 84 point, by the same
    edge rule as `attach_points`; outside the district the codes are None and `outside_m`
    says how far away it is.

        >>> locate_point(conn, 98.47, 39.76).sector_code          # doctest: +SKIP
        '6209020030020301'
    """
    point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
    sql = f"""
        WITH hit AS (
            SELECT {SECTOR_OF.format(point=point)} AS sector_code,
                   {COURTYARD_OF.format(point=point)} AS courtyard_code
        )
        SELECT hit.courtyard_code, hit.sector_code, s.parent_code AS grid2_code,
               g.parent_code AS community_code,
               CASE WHEN hit.sector_code IS NOT NULL THEN 0
                    WHEN abs(:lon - 99) <= 3 THEN
                   (SELECT min(ST_Distance(ST_Transform(d.geom, 4542),
                                           ST_Transform({point}, 4542)))
                    FROM units d WHERE d.valid_to IS NULL AND d.level = 'district')
                    ELSE  -- far outside the Gauss-Kruger zone: geodesic metres
                   (SELECT min(ST_Distance(d.geom::geography, {point}::geography))
                    FROM units d WHERE d.valid_to IS NULL AND d.level = 'district')
               END AS outside_m
        FROM hit
        LEFT JOIN units s ON s.code = hit.sector_code AND s.valid_to IS NULL
        LEFT JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL
    """
    row = conn.execute(text(sql), {"lon": lon, "lat": lat}).one()
    return Location(
        courtyard_code=row.courtyard_code if row.sector_code else None,
        sector_code=row.sector_code,
        grid2_code=row.grid2_code,
        community_code=row.community_code,
        outside_m=None if row.outside_m is None else float(row.outside_m),
    )
