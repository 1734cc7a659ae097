"""Balance and shape of the whole grid, for the planner's editor: households per worker
against the band and cases per worker for every sector and level-2 grid, households per
courtyard (what lies under the pen), and each sector's compactness (Polsby–Popper).

    >>> balance = district_balance(conn)                     # doctest: +SKIP
    >>> balance["sectors"][0]["households_per_worker"], balance["band"]
    (312.5, [270.0, 330.0])
    >>> polsby_popper(np.array([square]))                    # doctest: +SKIP
    array([0.785])
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.settings import Settings, get_settings
from geo.planning.geometry import to_metric


def households_band(settings: Settings | None = None) -> tuple[float, float]:
    """The households-per-worker band (low, high) a unit should lie in: the target ± the
    rebalancing share. (The one definition the restructure moves to geo/core/terms.py.)"""
    s = settings or get_settings()
    target, share = s.households_per_worker_target, s.rebalance_band
    return (round(target * (1 - share), 1), round(target * (1 + share), 1))


def polsby_popper(geoms) -> np.ndarray:
    """4πA/P² of each WGS 84 polygon, area and perimeter in EPSG:4542: 1 for a disc,
    about 0.785 for a square, towards 0 for a thin or ragged shape."""
    metric = to_metric(np.asarray(geoms, dtype=object))
    area, perimeter = shapely.area(metric), shapely.length(metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(perimeter > 0, 4 * math.pi * area / perimeter**2, 0.0)
    return np.round(score, 3)


def compactness(sectors: pd.DataFrame, codes, settings: Settings | None = None) -> dict:
    """Polsby–Popper of the sectors `codes` of `sectors` (indexed by code, a `geom` or
    `geometry` column in WGS 84, `name_zh`), and a warning for each one under
    `GRIDMAP_COMPACTNESS_MIN`: `{"min": 0.2, "sectors": [...], "warnings": [...]}`."""
    s = settings or get_settings()
    column = "geom" if "geom" in sectors.columns else "geometry"
    shown = [c for c in sorted(c for c in codes if c) if c in sectors.index]
    scores = polsby_popper(sectors.loc[shown, column].values) if shown else []
    rows, warnings = [], []
    for code, score in zip(shown, scores, strict=True):
        name = sectors.at[code, "name_zh"] if "name_zh" in sectors.columns else None
        rows.append({"code": code, "name_zh": name, "polsby_popper": float(score)})
        if score < s.compactness_min:
            warnings.append(
                {
                    "rule": "uncompact",
                    "units": [code],
                    "polsby_popper": float(score),
                    "detail": f"sector {code} would be very uncompact (Polsby–Popper "
                    f"{score:.2f} < {s.compactness_min:g}, GRIDMAP_COMPACTNESS_MIN): "
                    "a thin or ragged sector is hard to walk",
                }
            )
    return {"min": s.compactness_min, "sectors": rows, "warnings": warnings}


#: households, grid workers and recorded cases of every current sector, with its shape
SECTOR_FIGURES = """
SELECT u.code, u.parent_code, u.name_zh, u.name_en, ST_AsBinary(u.geom) AS wkb,
       coalesce(h.n, 0) AS households, coalesce(w.n, 0) AS workers, coalesce(i.n, 0) AS cases
FROM units u
LEFT JOIN (SELECT sector_code, count(*) AS n FROM households GROUP BY 1) h
       ON h.sector_code = u.code
LEFT JOIN (SELECT serves_code, count(*) AS n FROM resources
           WHERE kind = 'grid_worker' AND retired_at IS NULL GROUP BY 1) w
       ON w.serves_code = u.code
LEFT JOIN (SELECT sector_code, count(*) AS n FROM incidents GROUP BY 1) i
       ON i.sector_code = u.code
WHERE u.valid_to IS NULL AND u.level = 'sector'
ORDER BY u.code
"""
GRID_NAMES = (
    "SELECT code, name_zh, name_en FROM units WHERE valid_to IS NULL AND level = 'grid2' "
    "ORDER BY code"
)
COURTYARD_HOUSEHOLDS = """
SELECT c.code, count(h.id) AS households FROM courtyards c
LEFT JOIN households h ON h.courtyard_code = c.code
WHERE c.valid_to IS NULL GROUP BY c.code ORDER BY c.code
"""


def _rows(frame: pd.DataFrame, low: float, high: float) -> list[dict]:
    """The balance figures of each unit of `frame` (households, workers, cases)."""
    workers = frame["workers"].replace(0, np.nan)
    per_worker = (frame["households"] / workers).round(1)
    cases = (frame["cases"] / workers).round(1)
    out = frame.drop(columns=["wkb", "geometry"], errors="ignore").assign(
        households_per_worker=per_worker.astype(object).where(per_worker.notna(), None),
        cases_per_worker=cases.astype(object).where(cases.notna(), None),
        within_band=per_worker.between(low, high).where(per_worker.notna(), None),
    )
    return json.loads(out.to_json(orient="records", force_ascii=False))


def district_balance(conn: Connection, settings: Settings | None = None) -> dict:
    """Households per worker (against the band) and cases per worker of every current
    sector and level-2 grid, each sector's Polsby–Popper, and households per courtyard."""
    s = settings or get_settings()
    low, high = households_band(s)
    sectors = pd.read_sql(text(SECTOR_FIGURES), conn)
    sectors["polsby_popper"] = (
        polsby_popper(shapely.from_wkb([bytes(b) for b in sectors["wkb"]])) if len(sectors) else []
    )
    figures = sectors[["parent_code", "households", "workers", "cases"]]
    grids = (
        figures.groupby("parent_code", as_index=False).sum().rename(columns={"parent_code": "code"})
    )
    names = pd.read_sql(text(GRID_NAMES), conn)
    grids = names.merge(grids, on="code", how="left").fillna(
        {"households": 0, "workers": 0, "cases": 0}
    )
    grids[["households", "workers", "cases"]] = grids[["households", "workers", "cases"]].astype(
        int
    )
    yards = conn.execute(text(COURTYARD_HOUSEHOLDS)).all()
    return {
        "target": s.households_per_worker_target,
        "band": [low, high],
        "compactness_min": s.compactness_min,
        "sectors": _rows(sectors, low, high),
        "grids": _rows(grids, low, high),
        "courtyards": [{"code": c, "households": int(n)} for c, n in yards],
    }
