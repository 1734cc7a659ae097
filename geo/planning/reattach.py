"""Incremental re-attach: after a boundary change only the points in the changed area are
examined, in the change's transaction.

The changed area is where a point's sector or courtyard can differ: the symmetric
difference of each unit's old and new geometry, plus a 5 cm margin around those borders
(so points exactly on a moved border are examined too, and the edge rule — lowest code
wins — is applied afresh). A sector that only changed its code (reassigned to another
level-2 grid, same shape) is re-coded by one indexed UPDATE instead of spatially; its
border margin is still examined, because the edge rule depends on the codes.

Every examined point's codes before and after land in the temporary table
`boundary_moves` (dropped at commit), which the preview and the re-dispatch read.

    >>> area = changed_area(old_sectors, new_sectors, recode, old_yards, new_yards)
    >>> stats = reattach(conn, area, recode)        # doctest: +SKIP
    >>> stats["incidents"]
    {'examined': 5120, 'moved': 4987}
"""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.grid.attach import POINT_TABLES, attach_points
from geo.planning.geometry import BORDER_MARGIN_DEG

MOVES_TABLE = "boundary_moves"
CODES = ("courtyard", "sector", "grid2", "community")


def _aligned(old: dict, new: dict, rename: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Old and new geometry of each unit, a renamed unit compared under its new name."""
    names = sorted(set(rename.get(c, c) for c in old) | set(new))
    empty = shapely.MultiPolygon()
    moved_old = {rename.get(c, c): g for c, g in old.items()}
    before = np.array([moved_old.get(n, empty) for n in names], dtype=object)
    after = np.array([new.get(n, empty) for n in names], dtype=object)
    return before, after


def changed_area(
    old_sectors: dict,
    new_sectors: dict,
    recode: dict[str, str],
    old_yards: dict | None = None,
    new_yards: dict | None = None,
):
    """The area (WGS 84) whose points may change sector or courtyard, or None if none."""
    before, after = _aligned(old_sectors, new_sectors, recode)
    pieces = list(shapely.symmetric_difference(before, after))
    if old_yards is not None and new_yards is not None:
        pieces += list(shapely.symmetric_difference(*_aligned(old_yards, new_yards, {})))
    borders = shapely.boundary(np.array([*pieces, *(old_sectors[c] for c in recode)], dtype=object))
    pieces = [p for p in pieces if not p.is_empty]
    borders = [b for b in borders if not b.is_empty]
    if not pieces and not borders:
        return None
    margin = shapely.buffer(shapely.union_all(borders), BORDER_MARGIN_DEG, quad_segs=2)
    return shapely.union_all([*pieces, margin])


def _create_moves_table(conn: Connection) -> None:
    cols = ", ".join(f"from_{c} text, to_{c} text" for c in CODES)
    conn.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {MOVES_TABLE} (kind text, id text, {cols}, "
            "PRIMARY KEY (kind, id)) ON COMMIT DROP"
        )
    )
    conn.execute(text(f"TRUNCATE {MOVES_TABLE}"))


def reattach(conn: Connection, area, recode: dict[str, str]) -> dict[str, dict[str, int]]:
    """Re-attach the points of every point table in `area` (a WGS 84 geometry or None) and
    re-code the points of sectors renamed by `recode` (old code → new code, same shape).
    Returns per table how many points were examined and how many changed a code."""
    _create_moves_table(conn)
    wkt = None if area is None else shapely.to_wkt(area, rounding_precision=-1)
    olds, news = list(recode), [recode[c] for c in recode]
    froms = ", ".join(f"p.{c}_code" for c in CODES)
    stats = {}
    for table in POINT_TABLES:
        selects = []
        if wkt is not None:
            selects.append(
                f"SELECT :kind, p.id, {froms} FROM {table} p "
                "WHERE ST_Covers(ST_GeomFromText(:area, 4326), p.geom)"
            )
        if olds:
            selects.append(
                f"SELECT :kind, p.id, {froms} FROM {table} p WHERE p.sector_code = ANY(:olds)"
            )
        if not selects:
            stats[table] = {"examined": 0, "moved": 0}
            continue
        if not olds:
            # only the area: codes before and after recorded by the attach itself
            found = attach_points(conn, table, wkt, record=MOVES_TABLE)
            stats[table] = {"examined": found.examined, "moved": _moved(conn, table)}
            continue
        conn.execute(
            text(
                f"INSERT INTO {MOVES_TABLE} (kind, id, {', '.join(f'from_{c}' for c in CODES)}) "
                + " UNION ".join(selects)
            ),
            {"kind": table, "area": wkt, "olds": olds},
        )
        if olds:
            conn.execute(
                text(
                    f"""UPDATE {table} p SET sector_code = s.code, grid2_code = s.parent_code,
                           community_code = g.parent_code
                    FROM unnest(CAST(:olds AS text[]), CAST(:news AS text[])) AS m(old, new)
                    JOIN units s ON s.code = m.new AND s.valid_to IS NULL
                    JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL
                    WHERE p.sector_code = m.old"""
                ),
                {"olds": olds, "news": news},
            )
        if wkt is not None:
            attach_points(conn, table, wkt)
        sets = ", ".join(f"to_{c} = p.{c}_code" for c in CODES)
        conn.execute(
            text(
                f"UPDATE {MOVES_TABLE} m SET {sets} FROM {table} p "
                "WHERE m.kind = :kind AND m.id = p.id"
            ),
            {"kind": table},
        )
        examined = conn.execute(
            text(f"SELECT count(*) FROM {MOVES_TABLE} WHERE kind = :kind"), {"kind": table}
        ).scalar_one()
        stats[table] = {"examined": examined, "moved": _moved(conn, table)}
    return stats


def _moved(conn: Connection, table: str) -> int:
    """How many points of `table` in the moves table changed a code."""
    before = ", ".join(f"from_{c}" for c in CODES)
    after = ", ".join(f"to_{c}" for c in CODES)
    return conn.execute(
        text(
            f"SELECT count(*) FROM {MOVES_TABLE} WHERE kind = :kind "
            f"AND ({before}) IS DISTINCT FROM ({after})"
        ),
        {"kind": table},
    ).scalar_one()
