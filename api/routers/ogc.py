"""OGC API – Features under `/ogc`: landing, conformance, collections, items, one item.

JSON by default, HTML with `f=html` (or a browser's Accept header); items are GeoJSON
(`application/geo+json`). Auth is the same Bearer token as everywhere else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import READ_CONN
from api.security import require
from geo.access.roles import Permission, Principal
from geo.publish import ogc

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
GEOJSON = "application/geo+json"
OPENAPI30 = "application/vnd.oai.openapi+json;version=3.0"
FORMAT = Query(None, pattern="^(json|html)$", description="json (default) or html")
SCHEMA_JSON = "application/schema+json"
reader = require(Permission.READ_UNITS)
#: every OGC resource answers HEAD too (OGC API – Features Core, HTTP 1.1)
GET = ["GET", "HEAD"]


def _html(request: Request, f: str | None) -> bool:
    if f:
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _url(request: Request, path: str, **params) -> str:
    base = str(request.base_url).rstrip("/") + "/ogc" + path
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{base}?{query}" if query else base


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    return {"href": href, "rel": rel, "type": type_, **({"title": title} if title else {})}


def _page(request: Request, title: str, **context) -> HTMLResponse:
    defaults = {
        "description": None,
        "links": [],
        "collections": None,
        "conforms": None,
        "features": None,
    }
    return templates.TemplateResponse(request, "ogc.html", {**defaults, "title": title, **context})


@router.api_route("", methods=GET, summary="Landing page")
@router.api_route("/", methods=GET, include_in_schema=False)
def landing(request: Request, f: str | None = FORMAT, _: Principal = Depends(reader)):
    links = [
        _link(_url(request, "/"), "self", "application/json", "this document"),
        _link(_url(request, "/", f="html"), "alternate", "text/html", "this document as HTML"),
        _link(_url(request, "/api"), "service-desc", OPENAPI30, "the API definition"),
        _link(str(request.base_url) + "docs", "service-doc", "text/html", "the API documentation"),
        _link(
            _url(request, "/conformance"), "conformance", "application/json", "conformance classes"
        ),
        _link(_url(request, "/collections"), "data", "application/json", "the collections"),
    ]
    title = "西北街街道网格化管理 OGC API – Features"
    if _html(request, f):
        return _page(request, title, links=links)
    return {"title": title, "description": "The district's layers for GIS clients.", "links": links}


@router.api_route("/api", methods=GET, summary="The OpenAPI 3.0 definition of this OGC API")
def service_description(request: Request, _: Principal = Depends(reader)) -> Response:
    body = json.dumps(ogc.openapi_document(_url(request, "")), ensure_ascii=False)
    return Response(body, media_type=OPENAPI30)


@router.api_route("/conformance", methods=GET, summary="Conformance classes")
def conformance(request: Request, f: str | None = FORMAT, _: Principal = Depends(reader)):
    if _html(request, f):
        return _page(request, "Conformance", conforms=ogc.CONFORMANCE)
    return {"conformsTo": ogc.CONFORMANCE}


def _describe(request: Request, conn, c: ogc.Collection) -> dict:
    items = _url(request, f"/collections/{c.id}/items")
    return {
        "id": c.id,
        "title": f"{c.title_zh} {c.title_en}",
        "description": c.description,
        "itemType": "feature",
        "crs": [ogc.CRS84],
        "extent": ogc.extent(conn, c),
        "links": [
            _link(_url(request, f"/collections/{c.id}"), "self", "application/json"),
            _link(
                _url(request, f"/collections/{c.id}", f="html"),
                "alternate",
                "text/html",
                "this collection as HTML",
            ),
            _link(items, "items", GEOJSON, f"{c.title_en} as GeoJSON"),
            _link(
                _url(request, f"/collections/{c.id}/queryables"),
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                "the properties items can be filtered on",
            ),
            _link(
                _url(request, f"/collections/{c.id}/schema"),
                "describedby",
                SCHEMA_JSON,
                "the features' schema (property types)",
            ),
            # GDAL before 3.8 looks for this spelling only, and reads field types from it
            _link(
                _url(request, f"/collections/{c.id}/schema"),
                "describedBy",
                SCHEMA_JSON,
                "the features' schema (property types)",
            ),
            _link(
                _url(request, f"/collections/{c.id}/items", f="html"),
                "items",
                "text/html",
                f"{c.title_en} as HTML",
            ),
        ],
    }


@router.api_route("/collections", methods=GET, summary="The collections the caller may read")
def collections(
    request: Request,
    f: str | None = FORMAT,
    principal: Principal = Depends(reader),
    conn=READ_CONN,
):
    visible = ogc.visible_collections(principal)
    if _html(request, f):
        rows = [
            {
                "id": c.id,
                "title_zh": c.title_zh,
                "title_en": c.title_en,
                "href": _url(request, f"/collections/{c.id}", f="html"),
                "items": _url(request, f"/collections/{c.id}/items", f="html"),
            }
            for c in visible
        ]
        return _page(request, "Collections", collections=rows)
    return {
        "links": [_link(_url(request, "/collections"), "self", "application/json")],
        "collections": [_describe(request, conn, c) for c in visible],
    }


@router.api_route("/collections/{collectionId}", methods=GET, summary="One collection")
def describe(
    request: Request,
    collectionId: str,
    f: str | None = FORMAT,  # noqa: N803
    principal: Principal = Depends(reader),
    conn=READ_CONN,
):
    c = ogc.collection(principal, collectionId)
    body = _describe(request, conn, c)
    if _html(request, f):
        return _page(request, body["title"], description=c.description, links=body["links"])
    return body


@router.api_route(
    "/collections/{collectionId}/items", methods=GET, summary="Features of a collection"
)
def items(
    request: Request,
    collectionId: str,  # noqa: N803
    limit: str | None = Query(
        None, description=f"default {ogc.DEFAULT_LIMIT}, at most {ogc.MAX_LIMIT}"
    ),
    offset: str | None = Query(None, description="default 0"),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS 84)"),
    datetime_: str | None = Query(
        None, alias="datetime", description="RFC 3339 instant or interval"
    ),
    f: str | None = FORMAT,
    principal: Principal = Depends(reader),
    conn=READ_CONN,
):
    params = dict(request.query_params)
    page = ogc.items(conn, principal, collectionId, params)
    q = page.query
    keep = {k: v for k, v in params.items() if k not in ("offset", "f")}
    links = [
        _link(
            _url(request, f"/collections/{collectionId}/items", **{**keep, "offset": q.offset}),
            "self",
            GEOJSON,
        ),
        _link(
            _url(
                request,
                f"/collections/{collectionId}/items",
                **{**keep, "offset": q.offset, "f": "html"},
            ),
            "alternate",
            "text/html",
        ),
        _link(_url(request, f"/collections/{collectionId}"), "collection", "application/json"),
    ]
    if q.offset + page.number_returned < page.number_matched:
        links.append(
            _link(
                _url(
                    request,
                    f"/collections/{collectionId}/items",
                    **{
                        **keep,
                        "offset": q.offset + q.limit,
                        "limit": max(q.limit, ogc.NEXT_PAGE_MIN_LIMIT),
                    },
                ),
                "next",
                GEOJSON,
            )
        )
    if q.offset > 0:
        links.append(
            _link(
                _url(
                    request,
                    f"/collections/{collectionId}/items",
                    **{**keep, "offset": max(0, q.offset - q.limit)},
                ),
                "prev",
                GEOJSON,
            )
        )
    if _html(request, f):
        features = json.loads(page.features_json)
        columns = list(features[0]["properties"]) if features else []
        return _page(
            request,
            collectionId,
            links=links,
            features=features,
            columns=columns,
            number_matched=page.number_matched,
            number_returned=page.number_returned,
        )
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    head = json.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": page.number_matched,
            "numberReturned": page.number_returned,
            "timeStamp": stamp,
            "links": links,
        },
        ensure_ascii=False,
    )
    return Response(head[:-1] + ', "features": ' + page.features_json + "}", media_type=GEOJSON)


@router.api_route(
    "/collections/{collectionId}/items/{featureId}", methods=GET, summary="One feature"
)
def feature(
    request: Request,
    collectionId: str,
    featureId: str,  # noqa: N803
    f: str | None = FORMAT,
    principal: Principal = Depends(reader),
    conn=READ_CONN,
):
    found = json.loads(ogc.item(conn, principal, collectionId, featureId))
    here = f"/collections/{collectionId}/items/{quote(featureId, safe='')}"
    found["links"] = [
        _link(_url(request, here), "self", GEOJSON, "this feature"),
        _link(_url(request, here, f="html"), "alternate", "text/html", "this feature as HTML"),
        _link(_url(request, f"/collections/{collectionId}"), "collection", "application/json"),
    ]
    if _html(request, f):
        return _page(
            request,
            f"{collectionId} / {featureId}",
            links=found["links"],
            features=[found],
            columns=list(found["properties"]),
            number_matched=1,
            number_returned=1,
        )
    return Response(json.dumps(found, ensure_ascii=False), media_type=GEOJSON)


@router.api_route(
    "/collections/{collectionId}/queryables",
    methods=GET,
    summary="The properties a collection's items can be filtered on (OGC API – Features Part 3)",
)
def queryables(
    request: Request,
    collectionId: str,  # noqa: N803
    principal: Principal = Depends(reader),
    conn=READ_CONN,
):
    url = _url(request, f"/collections/{collectionId}/queryables")
    body = ogc.queryables(conn, principal, collectionId, url)
    return Response(json.dumps(body, ensure_ascii=False), media_type=SCHEMA_JSON)


@router.api_route(
    "/collections/{collectionId}/schema",
    methods=GET,
    summary="The schema of a collection's features: each property's type",
)
def schema(
    request: Request,
    collectionId: str,  # noqa: N803
    principal: Principal = Depends(reader),
    conn=READ_CONN,
):
    url = _url(request, f"/collections/{collectionId}/schema")
    body = ogc.feature_schema(conn, principal, collectionId, url)
    return Response(json.dumps(body, ensure_ascii=False), media_type=SCHEMA_JSON)
