"""Records: bulk import (`POST /api/imports/{kind}`), the lists of households, residents,
businesses, resources and incidents as paged GeoJSON, and one unit with its counts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Connection

from api.deps import CONN, READ_CONN
from api.params import IsoDateTime
from api.security import require
from geo import imports
from geo.access.roles import Permission, Principal
from geo.core.settings import get_settings
from geo.publish import listing

router = APIRouter(tags=["records"])
GEOJSON = "application/geo+json"


@router.post(
    "/api/imports/{kind}",
    summary="Import a file of households, residents, businesses, resources or incidents",
    description=(
        "Multipart upload, the same as `gridmap import KIND FILE`: CSV, XLSX, GeoJSON, "
        "GeoPackage or zipped Shapefile; one transaction, all rows or none (422 with every "
        "bad row) unless `skip_invalid`. `columns` maps headers to fields (`经度=lon,名称="
        "name_zh` or a JSON object; `HEADER=-` ignores a column). `format=csv` returns the "
        "rejected rows as CSV instead of the JSON report."
    ),
)
def post_import(
    kind: str,
    file: UploadFile = File(..., description="The file; its name's suffix says the format."),
    crs: str | None = Form(None, description="wgs84 (default), cgcs2000, gcj02 or bd09"),
    skip_invalid: bool = Form(False, description="Load the valid rows, report the rest."),
    columns: str | None = Form(None, description="Column mapping HEADER=field,..."),
    sheet: str | None = Form(None, description="XLSX sheet, GeoPackage layer or Shapefile."),
    level: str | None = Form(None, description="Boundaries only: the layer to replace."),
    format: str = Query("json", pattern="^(json|csv)$"),
    principal: Principal = Depends(require(Permission.IMPORT_DATA)),
    conn: Connection = CONN,
) -> Response:
    filename = file.filename or "upload"
    data = file.file.read(get_settings().import_max_bytes + 1)
    options = imports.ImportOptions.chosen(
        principal.actor, crs, skip_invalid, columns, sheet, level
    )
    report = imports.import_file(conn, kind, data, filename, options)
    if format == "csv":
        return Response(report.to_csv(), media_type="text/csv; charset=utf-8")
    return JSONResponse(jsonable_encoder(report.as_dict()))


def _page_response(request: Request, page: listing.Page) -> JSONResponse:
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    headers = {}
    if page.next_after is not None:
        href = str(request.url.include_query_params(after=page.next_after, limit=page.limit))
        links.append({"rel": "next", "type": GEOJSON, "href": href})
        headers["Link"] = f'<{href}>; rel="next"'
    body = {
        "type": "FeatureCollection",
        "features": page.features,
        "numberReturned": len(page.features),
        "links": links,
    }
    return JSONResponse(jsonable_encoder(body), media_type=GEOJSON, headers=headers)


def _list_route(kind: str, permission: Permission, what: str):
    def list_kind(
        request: Request,
        community: str | None = Query(None, description="Community (level-1 grid) code"),
        grid: str | None = Query(None, description="Level-2 grid (or community) code"),
        sector: str | None = Query(None, description="Grid sector code"),
        courtyard: str | None = Query(None, description="Courtyard code"),
        bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS 84)"),
        category: str | None = Query(None, description="Category (incidents, businesses)"),
        kind_: str | None = Query(None, alias="kind", description="Kind (businesses, resources)"),
        status: str | None = Query(None, description="Status (incidents)"),
        since: IsoDateTime | None = Query(None, description="Observed at or after (incidents)"),
        until: IsoDateTime | None = Query(None, description="Observed before (incidents)"),
        after: str | None = Query(None, description="The last id of the previous page"),
        limit: int = Query(100, ge=1, description="Features per page (capped by the server)"),
        principal: Principal = Depends(require(permission)),
        conn: Connection = CONN,
    ) -> JSONResponse:
        filters = listing.Filters(
            community, grid, sector, courtyard, bbox, category, kind_, status, since, until
        )
        page = listing.list_features(conn, kind, principal, filters, after, limit)
        return _page_response(request, page)

    router.add_api_route(
        f"/api/{kind}",
        list_kind,
        methods=["GET"],
        summary=f"{what} as paged GeoJSON",
        response_class=JSONResponse,
        name=f"list_{kind}",
    )


_list_route("households", Permission.READ_HOUSEHOLDS, "Households (grid workers: own grids)")
_list_route("residents", Permission.READ_HOUSEHOLDS, "Residents at their households' places")
_list_route("businesses", Permission.READ_PLACES, "Shops, enterprises and institutions")
_list_route("resources", Permission.READ_PLACES, "Governance resources")
_list_route("incidents", Permission.READ_INCIDENTS, "Incidents (key population: own grids)")


@router.get("/api/units/{code}", summary="One unit or courtyard with what lies in it")
def get_unit(
    code: str,
    principal: Principal = Depends(require(Permission.READ_UNITS)),
    conn: Connection = READ_CONN,
) -> JSONResponse:
    return JSONResponse(jsonable_encoder(listing.unit_detail(conn, code)), media_type=GEOJSON)
