"""The planner's plans over HTTP: drafts of boundary edits previewed on top of each other,
undo/redo, locks, compare, rebase, apply as one change, discard, export and import."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CONN
from api.params import MAX_BIGINT
from api.routers.boundaries import Merge, Reassign, SectorFeature, SectorGeometry, Split
from api.security import require
from geo.access.roles import Permission, Principal
from geo.planning import plan_compare, plan_files, plans

router = APIRouter(tags=["plans"])
READ = require(Permission.READ_UNITS)
EDIT = require(Permission.EDIT_BOUNDARIES)
Mode = Literal["adjust", "refuse"]
PlanId = Annotated[int, Field(ge=1, le=MAX_BIGINT)]


class NewPlan(BaseModel):
    name: str = Field(min_length=1, max_length=120, description="e.g. 东片调整")
    locks: list[str] = Field(
        default_factory=list, max_length=100, description="sector codes to lock"
    )


class MoveBorder(SectorGeometry):
    kind: Literal["move_border"]
    code: str = Field(max_length=32, description="the sector whose borders move")


class MoveBorders(BaseModel):
    kind: Literal["move_borders"]
    features: list[SectorFeature] = Field(min_length=1, max_length=100)
    reason: str | None = None
    on_conflict: Mode = "adjust"


class ReassignEdit(Reassign):
    kind: Literal["reassign"]
    code: str = Field(max_length=32)


class SplitEdit(Split):
    kind: Literal["split"]
    code: str = Field(max_length=32)


class MergeEdit(Merge):
    kind: Literal["merge"]
    code: str = Field(max_length=32)


class RollbackEdit(BaseModel):
    kind: Literal["rollback"]
    code: str = Field(max_length=32)
    version: int = Field(ge=1, le=1_000_000)
    reason: str | None = None
    on_conflict: Mode = "adjust"


class RollbackLayerEdit(BaseModel):
    kind: Literal["rollback_layer"]
    as_of: str = Field(max_length=40, description="a date (end of that day, Beijing) or a time")
    reason: str | None = None


class RebalanceEdit(BaseModel):
    kind: Literal["rebalance"]
    code: str = Field(max_length=32, description="the community to rebalance")
    reason: str | None = None


class AssignWorker(BaseModel):
    kind: Literal["assign_worker"]
    worker: str = Field(max_length=40, description="a grid worker's id")
    sector: str = Field(max_length=32, description="the sector it will serve")
    reason: str | None = None


PlanEditBody = Annotated[
    MoveBorder
    | MoveBorders
    | ReassignEdit
    | SplitEdit
    | MergeEdit
    | RollbackEdit
    | RollbackLayerEdit
    | RebalanceEdit
    | AssignWorker,
    Field(discriminator="kind"),
]


class Locks(BaseModel):
    sectors: list[str] = Field(min_length=1, max_length=100)


class ApplyPlan(BaseModel):
    reason: str | None = Field(None, description="why (required): one reason for the change")


@router.post("/api/plans", status_code=201, summary="Start a plan on the layer in force")
def create_plan(body: NewPlan, principal: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.create_plan(conn, body.name, principal.actor, body.locks)


@router.get("/api/plans", summary="Plans, newest first")
def list_plans(
    status: Literal["open", "applied", "discarded", "all"] = Query("open"),
    _: Principal = Depends(READ),
    conn=CONN,
) -> list[dict]:
    return plans.list_plans(conn, None if status == "all" else status)


@router.post("/api/plans/import", status_code=201, summary="A new plan from an exported file")
def import_plan(
    file: UploadFile = File(description="a plan exported as GeoJSON or GeoPackage"),
    name: str | None = Form(None, max_length=120),
    principal: Principal = Depends(EDIT),
    conn=CONN,
) -> dict:
    filename = Path(file.filename or "plan.geojson").name
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        path.write_bytes(file.file.read())
        return plan_files.import_plan(conn, path, name, principal.actor)


@router.get("/api/plans/{plan_id}", summary="A plan: its edits, locks, whether its base moved")
def get_plan(plan_id: PlanId, _: Principal = Depends(READ), conn=CONN) -> dict:
    return plans.get_plan(conn, plan_id)


@router.post("/api/plans/{plan_id}/edits", summary="Preview an edit on the plan and add it")
def add_edit(
    plan_id: PlanId,
    body: Annotated[PlanEditBody, Body()],
    dry_run: bool = Query(False, description="only preview it on the plan; store nothing"),
    principal: Principal = Depends(EDIT),
    conn=CONN,
) -> dict:
    return plans.add_edit(
        conn, plan_id, body.kind, body.model_dump(exclude_none=True), principal.actor, dry_run
    )


@router.post("/api/plans/{plan_id}/undo", summary="Step the plan back one edit")
def undo(plan_id: PlanId, _: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.undo(conn, plan_id)


@router.post("/api/plans/{plan_id}/redo", summary="Bring back the edit undone last")
def redo(plan_id: PlanId, principal: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.redo(conn, plan_id, principal.actor)


@router.post("/api/plans/{plan_id}/locks", summary="Lock sectors against other edits")
def lock(plan_id: PlanId, body: Locks, _: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.lock(conn, plan_id, body.sectors)


@router.delete("/api/plans/{plan_id}/locks/{code}", summary="Release a sector the plan locked")
def unlock(plan_id: PlanId, code: str, _: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.unlock(conn, plan_id, code)


@router.get("/api/plans/{plan_id}/compare", summary="The plan beside the layer or another plan")
def compare(
    plan_id: PlanId,
    with_: str = Query("current", alias="with", max_length=20, description="current or a plan id"),
    principal: Principal = Depends(READ),
    conn=CONN,
) -> dict:
    return plan_compare.compare(conn, plan_id, with_, principal.actor)


@router.post("/api/plans/{plan_id}/rebase", summary="Replay the plan on the layer in force")
def rebase(plan_id: PlanId, principal: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.rebase(conn, plan_id, principal.actor)


@router.post("/api/plans/{plan_id}/apply", summary="Apply the plan as one boundary change")
def apply_plan(
    plan_id: PlanId, body: ApplyPlan, principal: Principal = Depends(EDIT), conn=CONN
) -> dict:
    return plans.apply_plan(conn, plan_id, body.reason, principal.actor)


@router.delete("/api/plans/{plan_id}", summary="Discard the plan")
def discard(plan_id: PlanId, _: Principal = Depends(EDIT), conn=CONN) -> dict:
    return plans.discard(conn, plan_id)


@router.get("/api/plans/{plan_id}/export", summary="The plan as GeoJSON or GeoPackage")
def export_plan(
    plan_id: PlanId,
    format: Literal["geojson", "gpkg"] = Query("geojson"),
    principal: Principal = Depends(READ),
    conn=CONN,
) -> Response:
    content, media, name = plan_files.export_plan(conn, plan_id, format, principal.actor)
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
