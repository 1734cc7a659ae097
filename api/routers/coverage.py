"""`GET /api/coverage`: one row per unit with its metrics and flags; exports for Excel and QGIS."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import READ_CONN
from api.params import IsoDate
from api.security import require
from geo.access.roles import Permission, Principal
from geo.insight import coverage as cov
from geo.planning.asof import parse_as_of

router = APIRouter(prefix="/api/coverage", tags=["coverage"])

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
}


@router.get("", summary="Coverage per unit: holdings, who serves it, incidents, flags")
def get_coverage(
    level: Literal["sector", "grid2", "community", "subdistrict"] = "sector",
    since: IsoDate | None = Query(
        None, description="first day of the period (default: 364 days before until)"
    ),
    until: IsoDate | None = Query(
        None, description="last day of the period, included (default: today)"
    ),
    as_of: str | None = Query(
        None,
        description="boundaries as they were then (a date: the end of that day, Beijing time); "
        "points are located in the units of then",
    ),
    format: Literal["json", "csv", "xlsx", "gpkg"] = "json",
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=READ_CONN,
):
    report = cov.coverage(conn, principal, level, since, until, as_of=parse_as_of(as_of))
    if format == "json":
        return {
            "level": report.level,
            "as_of": report.as_of,
            "since": report.since,
            "until": report.until,
            "thresholds": report.thresholds,
            "rows": report.rows,
        }
    filename = f"coverage_{level}_{report.until:%Y%m%d}.{format}"
    return Response(
        cov.export(conn, report, format),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/completeness", summary="District completeness: coverage share and what is unattached")
def get_completeness(
    _: Principal = Depends(require(Permission.READ_COVERAGE)), conn=READ_CONN
) -> dict:
    return cov.completeness(conn)
