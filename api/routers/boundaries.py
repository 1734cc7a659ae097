"""Boundary planning over HTTP: the layer as of any date, unit history, the change log,
the planner's edits (If-Match required, `?dry_run=true` previews, `format=html` draws the
preview), rollback, boundary import and community rebalancing proposals."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from api.deps import CONN
from api.params import MAX_BIGINT
from api.security import require
from api.web import page_language, render
from geo.access.privacy import exposure
from geo.access.roles import Permission, Principal
from geo.core.errors import InvalidInput, PreconditionRequired
from geo.grid.streets import orientation
from geo.planning import asof, edits, importer, plans, rebalance
from geo.planning.change_story import change_story
from geo.planning.geometry import from_geojson
from geo.planning.layer import parse_etags
from geo.planning.preview_map import preview_page
from geo.publish.messages import MESSAGES

router = APIRouter(tags=["boundaries"])
READ = require(Permission.READ_UNITS)
EDIT = require(Permission.EDIT_BOUNDARIES)
Mode = Literal["adjust", "refuse"]
DRY_RUN = Query(False, description="preview only: report what would change, write nothing")
FORMAT = Query("json", description="`html`: the preview as a map page (with dry_run)")


@dataclass(frozen=True)
class EditRequest:
    """What every edit route takes besides its body: preview or write, the answer's format,
    the If-Match ETags, the planner and the connection."""

    dry_run: bool
    format: str
    if_match: str | None
    principal: Principal
    conn: Connection

    def expect(self, what: str) -> list[str]:
        return _expect(self.if_match, what)

    def answer(self, report: dict, title: str, etag_of: str | None = None):
        return _answer(report, self.format, title, etag_of, self.conn)


def edit_request(
    dry_run: bool = DRY_RUN,
    format: str = FORMAT,
    if_match: str | None = Header(None, description="the ETag(s) of what the edit changes"),
    principal: Principal = Depends(EDIT),
    conn: Connection = CONN,
) -> EditRequest:
    return EditRequest(dry_run, format, if_match, principal, conn)


def _expect(if_match: str | None, what: str) -> list[str]:
    tags = parse_etags(if_match)
    if not tags:
        raise PreconditionRequired(
            f"send If-Match with the ETag of {what} as you read it (GET it first); "
            "edits without it could overwrite someone else's change"
        )
    return tags


def _answer(report: dict, fmt: str, title: str, etag_of: str | None = None, conn=None):
    if fmt == "html":
        streets = orientation(conn)["streets"] if conn is not None else None
        return HTMLResponse(
            preview_page(title, report["map"]["before"], report["map"]["after"], report, streets)
        )
    headers = {}
    if etag_of and report.get("valid") and not report.get("dry_run"):
        tag = next((u["etag"] for u in report.get("units", []) if u["code"] == etag_of), None)
        if tag:
            headers["ETag"] = tag
    return JSONResponse(report, headers=headers)


@router.get("/api/boundaries", summary="The grid as GeoJSON, now or as of a date")
def get_boundaries(
    level: str = Query("sector", description="district, community, grid2, sector, courtyard"),
    as_of: str | None = Query(None, description="a date (end of that day, Beijing) or a time"),
    plan: int | None = Query(
        None, ge=1, le=MAX_BIGINT, description="a plan's id: the layer its edits make"
    ),
    principal: Principal = Depends(READ),
    conn=CONN,
):
    if plan is not None and as_of is not None:
        raise InvalidInput("as_of and plan: one or the other, not both", field="plan")
    if plan is not None:
        body = plans.plan_boundaries(conn, plan, level, exposure(principal), principal.actor)
    else:
        body = asof.boundaries(
            conn, level, asof.parse_as_of(as_of), exposure(principal), principal.actor
        )
    headers = {"ETag": body["layer_etag"]} if "layer_etag" in body else {}
    return JSONResponse(body, headers=headers, media_type="application/geo+json")


@router.get("/api/boundaries/changes", summary="The boundary change log, newest first")
def list_changes(
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_BIGINT),
    principal: Principal = Depends(READ),
    conn=CONN,
) -> list[dict]:
    return asof.changes(conn, limit, offset, exposure(principal), principal.actor)


@router.get("/api/boundaries/changes/{change_id}", summary="One change: old and new versions")
def get_change(change_id: int, principal: Principal = Depends(READ), conn=CONN) -> dict:
    return asof.change(conn, change_id, exposure(principal), principal.actor)


@router.get("/api/boundaries/units/{code}", summary="A unit's current version, with its ETag")
def get_unit(code: str, principal: Principal = Depends(READ), conn=CONN):
    feature = asof.unit(conn, code, exposure(principal), principal.actor)
    return JSONResponse(
        feature, headers={"ETag": feature["properties"]["etag"]}, media_type="application/geo+json"
    )


@router.get("/api/boundaries/units/{code}/history", summary="Every version of a unit")
def get_history(code: str, principal: Principal = Depends(READ), conn=CONN):
    body = asof.history(conn, code, exposure(principal), principal.actor)
    return JSONResponse(body, media_type="application/geo+json")


class SectorGeometry(BaseModel):
    geometry: dict | None = Field(None, description="GeoJSON Polygon/MultiPolygon, WGS 84")
    reason: str | None = Field(None, description="why (required)")
    on_conflict: Mode = Field(
        "adjust", description="adjust the neighbours, or refuse listing gaps and overlaps"
    )
    name_zh: str | None = None
    name_en: str | None = None


@router.put("/api/boundaries/sectors/{code}", summary="Move a sector's borders (new geometry)")
def put_sector(
    code: str,
    body: SectorGeometry,
    edit: EditRequest = Depends(edit_request),
):
    geometry = from_geojson(body.geometry) if body.geometry is not None else None
    report = edits.put_sector(
        edit.conn,
        code,
        geometry,
        body.reason,
        edit.principal.actor,
        edit.expect(f"sector {code}"),
        body.on_conflict,
        edit.dry_run,
        body.name_zh,
        body.name_en,
    )
    return edit.answer(report, f"调整片区 {code} 边界 · moving the borders of {code}", code)


class SectorFeature(BaseModel):
    id: str = Field(description="the sector's code")
    geometry: dict = Field(description="its new GeoJSON Polygon/MultiPolygon, WGS 84")


class SectorGeometries(BaseModel):
    features: list[SectorFeature] = Field(
        min_length=1, max_length=100, description="the sectors drawn, each with its new geometry"
    )
    reason: str | None = Field(None, description="why (required)")
    on_conflict: Mode = Field(
        "adjust", description="adjust the other neighbours, or refuse listing gaps and overlaps"
    )


@router.patch(
    "/api/boundaries/sectors",
    summary="Move shared borders: new geometries of several sectors in one change",
)
def patch_sectors(
    body: SectorGeometries,
    edit: EditRequest = Depends(edit_request),
):
    codes = [f.id for f in body.features]
    if len(set(codes)) != len(codes):
        raise InvalidInput(
            "each sector may appear once in `features`; repeated: "
            + ", ".join(sorted({c for c in codes if codes.count(c) > 1}))
        )
    geometries = {
        f.id: from_geojson(f.geometry, f"features[{i}].geometry")
        for i, f in enumerate(body.features)
    }
    report = edits.put_sectors(
        edit.conn,
        geometries,
        body.reason,
        edit.principal.actor,
        edit.expect(f"sectors {', '.join(codes)}"),
        body.on_conflict,
        edit.dry_run,
    )
    return edit.answer(report, f"调整边界 · moving the borders of {', '.join(codes)}")


class Reassign(BaseModel):
    grid2_code: str
    reason: str | None = None
    name_zh: str | None = None
    name_en: str | None = None


@router.post("/api/boundaries/sectors/{code}/reassign", summary="Move a sector to another grid")
def reassign_sector(
    code: str,
    body: Reassign,
    edit: EditRequest = Depends(edit_request),
):
    report = edits.reassign(
        edit.conn,
        code,
        body.grid2_code,
        body.reason,
        edit.principal.actor,
        edit.expect(f"sector {code}"),
        edit.dry_run,
        body.name_zh,
        body.name_en,
    )
    return edit.answer(report, f"片区 {code} 改属 {body.grid2_code}")


class Split(BaseModel):
    line: dict = Field(description="GeoJSON LineString crossing the sector once, WGS 84")
    reason: str | None = None
    name_zh: str | None = Field(None, description="name of the new sector")
    name_en: str | None = None


@router.post("/api/boundaries/sectors/{code}/split", summary="Split a sector along a line")
def split_sector(
    code: str,
    body: Split,
    edit: EditRequest = Depends(edit_request),
):
    report = edits.split(
        edit.conn,
        code,
        from_geojson(body.line, "line"),
        body.reason,
        edit.principal.actor,
        edit.expect(f"sector {code}"),
        edit.dry_run,
        body.name_zh,
        body.name_en,
    )
    return edit.answer(report, f"拆分片区 {code} · splitting {code}", code)


class Merge(BaseModel):
    other: str = Field(description="the adjacent sector merged into this one (retired)")
    reason: str | None = None


@router.post("/api/boundaries/sectors/{code}/merge", summary="Merge an adjacent sector into this")
def merge_sectors(
    code: str,
    body: Merge,
    edit: EditRequest = Depends(edit_request),
):
    report = edits.merge(
        edit.conn,
        code,
        body.other,
        body.reason,
        edit.principal.actor,
        edit.expect(f"sectors {code} and {body.other}"),
        edit.dry_run,
    )
    return edit.answer(report, f"合并片区 {code} + {body.other}", code)


class UnitRollback(BaseModel):
    version: int = Field(ge=1)
    reason: str | None = None
    on_conflict: Mode = "adjust"


@router.post("/api/boundaries/units/{code}/rollback", summary="Restore a sector's old version")
def rollback_unit(
    code: str,
    body: UnitRollback,
    edit: EditRequest = Depends(edit_request),
):
    report = edits.rollback_unit(
        edit.conn,
        code,
        body.version,
        body.reason,
        edit.principal.actor,
        edit.expect(f"unit {code} (its latest version)"),
        body.on_conflict,
        edit.dry_run,
    )
    return edit.answer(report, f"恢复 {code} 第 {body.version} 版", code)


class LayerRollback(BaseModel):
    as_of: datetime | str = Field(description="a date (end of that day, Beijing) or a time")
    reason: str | None = None


@router.post("/api/boundaries/rollback", summary="Restore the whole layer as it was at a time")
def rollback_layer(
    body: LayerRollback,
    edit: EditRequest = Depends(edit_request),
):
    report = edits.rollback_layer(
        edit.conn,
        asof.parse_as_of(body.as_of),
        body.reason,
        edit.principal.actor,
        edit.expect("the layer (GET /api/boundaries answers its ETag)"),
        edit.dry_run,
    )
    return edit.answer(report, "恢复边界图层 · layer rollback")


@router.post("/api/imports/boundaries", summary="Replace a boundary layer from a file")
def import_boundaries(
    file: UploadFile = File(description="GeoJSON, GeoPackage or zipped Shapefile"),
    level: str = Form(description="sector, grid2, community or courtyard"),
    reason: str | None = Form(None),
    edit: EditRequest = Depends(edit_request),
):
    name = Path(file.filename or "upload.geojson").name
    etags = parse_etags(edit.if_match) or None  # optional here: the layer's ETag
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(file.file.read())
        report = importer.import_boundaries(
            edit.conn, path, level, edit.principal.actor, reason, etags, edit.dry_run
        )
    return edit.answer(report, f"导入边界 {name}")


class RebalanceRequest(BaseModel):
    apply: bool = Field(False, description="write the proposal (needs reason and If-Match)")
    reason: str | None = None


@router.post("/api/communities/{code}/rebalance", summary="Propose (or apply) a rebalancing")
def rebalance_community(
    code: str,
    body: RebalanceRequest | None = None,
    format: str = FORMAT,
    if_match: str | None = Header(None),
    principal: Principal = Depends(EDIT),
    conn=CONN,
):
    body = body or RebalanceRequest()
    expect = _expect(if_match, "the layer (from the proposal's layer_etag)") if body.apply else None
    report = rebalance.rebalance(conn, code, principal.actor, body.reason, body.apply, expect)
    return _answer(
        report, format, f"社区 {code} 网格负载均衡方案 · rebalancing proposal", None, conn
    )


@router.get(
    "/maps/boundaries/changes/{change_id}",
    response_class=HTMLResponse,
    summary="A committed change: what moved (names beside codes), old and new borders (page)",
)
def change_map(
    request: Request,
    change_id: int = PathParam(le=MAX_BIGINT),
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.VIEW_MAPS)),
    conn=CONN,
) -> HTMLResponse:
    story = change_story(conn, change_id, exposure(principal))
    kinds = {key for key in MESSAGES if key.startswith("editor.change.")}
    return render(request, "boundary_change.html", lang, principal, story=story, kinds=kinds)
