"""Incident maps for patrols: heat, week by week, significant hotspots (HTML, cached), and
the hotspots as GeoJSON."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import READ_CONN
from api.security import require
from geo.access.roles import Permission, Principal
from geo.grid.streets import orientation
from geo.insight.hotspots import DEFAULT_CELL_M, hotspot_analysis
from geo.maps.coverage import DEFAULT_METRIC, coverage_page
from geo.maps.hotspots import hotspot_page, hotspots_geojson
from geo.maps.incidents import incident_page, weekly_page
from geo.publish.cache import CachedPage

router = APIRouter(tags=["maps"])

CATEGORY = Query(None, description="incident category code(s); repeat or comma-separate")
STATUS = Query(None, description="incident status(es): reported, dispatched, ...")
SINCE = Query(None, description="from this date or date-time (local time UTC+8 if no offset)")
UNTIL = Query(None, description="up to this date (inclusive) or date-time (exclusive)")
GRID = Query(None, description="code of a community, level-2 grid or sector")
MODE = Query("window", description="`window`, or `compare`: last 4 weeks against the 52 before")
CELL = Query(DEFAULT_CELL_M, description="lattice cell size in metres (EPSG:4542), 25-1000")


def incident_filters(
    category: list[str] | None = CATEGORY,
    status: list[str] | None = STATUS,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    grid: str | None = GRID,
) -> dict:
    """The incident filters every map and the hotspot API take, as keyword arguments."""
    return {"category": category, "status": status, "since": since, "until": until, "grid": grid}


def _page(request: Request, page: CachedPage) -> Response:
    """The cached page: 304 if the browser has it, gzip if it takes it."""
    etag = f'"{page.etag}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding, Cookie, Authorization",
        "X-Map-Cache": "hit" if page.hit else "miss",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return HTMLResponse(page.body(gzipped=True), headers=headers)
    return HTMLResponse(page.body(), headers=headers)


@router.get("/maps/incidents", response_class=HTMLResponse, summary="Incident heat map (page)")
def incidents_map(
    request: Request,
    filters: dict = Depends(incident_filters),
    principal: Principal = Depends(require(Permission.VIEW_MAPS)),
    conn=READ_CONN,
) -> Response:
    page = incident_page(conn, principal, **filters)
    return _page(request, page)


@router.get(
    "/maps/incidents/weekly",
    response_class=HTMLResponse,
    summary="Incident heat week by week on a time slider (page)",
)
def weekly_map(
    request: Request,
    filters: dict = Depends(incident_filters),
    principal: Principal = Depends(require(Permission.VIEW_MAPS)),
    conn=READ_CONN,
) -> Response:
    page = weekly_page(conn, principal, **filters)
    return _page(request, page)


@router.get("/maps/hotspots", response_class=HTMLResponse, summary="Significant hotspots (page)")
def hotspots_map(
    request: Request,
    filters: dict = Depends(incident_filters),
    mode: str = MODE,
    cell: float = CELL,
    principal: Principal = Depends(require(Permission.VIEW_MAPS)),
    conn=READ_CONN,
) -> Response:
    page = hotspot_page(
        conn,
        principal,
        mode=mode,
        cell=cell,
        **filters,
    )
    return _page(request, page)


@router.get("/maps/coverage", response_class=HTMLResponse, summary="Coverage choropleth (page)")
def coverage_map(
    request: Request,
    level: str = Query("sector", description="sector, grid2 or community"),
    metric: str = Query(DEFAULT_METRIC, description="a numeric column of GET /api/coverage"),
    unit: str | None = Query(None, description="a unit code to outline and zoom to"),
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=READ_CONN,
) -> Response:
    return _page(request, coverage_page(conn, principal, level, metric, unit))


@router.get("/api/hotspots", summary="Significant hotspots (Getis-Ord Gi*, FDR) as GeoJSON")
def hotspots_api(
    filters: dict = Depends(incident_filters),
    mode: str = MODE,
    cell: float = CELL,
    all_cells: bool = Query(False, description="every analysed cell, not only significant"),
    principal: Principal = Depends(require(Permission.VIEW_MAPS)),
    conn=READ_CONN,
) -> Response:
    result = hotspot_analysis(
        conn,
        principal,
        mode=mode,
        cell=cell,
        **filters,
    )
    body = hotspots_geojson(result, all_cells=all_cells)

    return JSONResponse(body, media_type="application/geo+json")


@router.get(
    "/api/orientation",
    summary="The streets and landmarks drawn under every map (two GeoJSON collections)",
)
def orientation_api(
    _: Principal = Depends(require(Permission.VIEW_MAPS)),
    conn=READ_CONN,
) -> dict:
    return orientation(conn)
