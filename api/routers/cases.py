"""The case desk over HTTP: case lists, one owner, extension and return requests, photos,
and the working calendar (see `geo.cases.desk`, `geo.cases.photos`, `geo.cases.workcalendar`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CONN, READ_CONN
from api.security import require
from geo.access.roles import Permission, Principal
from geo.cases import desk as casedesk
from geo.cases import photos, workcalendar
from geo.core.settings import get_settings

router = APIRouter(tags=["cases"])

INCIDENT_ID = Path(..., max_length=40, description="e.g. I0000025001")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker: str = Field(..., min_length=1, max_length=40, description="a grid worker's id")
    note: str | None = Field(None, max_length=2000)


class RequestIn(BaseModel):
    """A worker's request: more working days (延期) or handing the case back (回退)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["extension", "return"]
    reason: str = Field(..., min_length=1, max_length=2000)
    working_days: int | None = Field(None, description="with kind=extension: 1 to 30")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str | None = Field(None, max_length=2000, description="required to refuse")


class CalendarDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    working: bool | None = Field(
        ..., description="true: a working day; false: a day off; null: remove the override"
    )
    note: str | None = Field(None, max_length=200)


@router.get("/api/cases", summary="Case lists: mine (assigned=me), my area's (area=me)")
def list_cases(
    assigned: Literal["me"] | None = Query(None, description="me: cases owned by or sent to me"),
    area: Literal["me"] | None = Query(None, description="me: my area's (supervisors)"),
    state: str = Query("open", description="open, closed, all or one state"),
    overdue: bool | None = Query(None),
    sort: Literal["due", "reported"] = Query("due", description="due: overdue first"),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000, description="skip this many (next_offset)"),
    principal: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=READ_CONN,
) -> dict:
    return casedesk.case_list(
        conn, principal, assigned, area, state, overdue, sort, limit, offset=offset
    )


@router.get(
    "/api/cases/nearby",
    summary="Before filing: open cases of a category near a point (duplicate hint)",
)
def nearby(
    lon: float = Query(..., description="WGS 84 longitude"),
    lat: float = Query(..., description="WGS 84 latitude"),
    category: str = Query(..., max_length=32),
    principal: Principal = Depends(require(Permission.REPORT_INCIDENTS)),
    conn=READ_CONN,
) -> list[dict]:
    return casedesk.nearby_open(conn, principal, lon, lat, category)


@router.post("/api/incidents/{incident_id}/assign", summary="One named owner (supervisor, admin)")
def assign(
    body: AssignIn,
    incident_id: str = INCIDENT_ID,
    principal: Principal = Depends(require(Permission.SUPERVISE_CASES)),
    conn=CONN,
) -> dict:
    casedesk.assign_owner(conn, principal, incident_id, body.worker, body.note)
    return casedesk.case_view(conn, principal, incident_id)


@router.post(
    "/api/incidents/{incident_id}/requests",
    status_code=201,
    summary="Ask for an extension (延期) or a return (回退) of a case",
)
def ask(
    body: RequestIn,
    incident_id: str = INCIDENT_ID,
    principal: Principal = Depends(require(Permission.UPDATE_INCIDENTS)),
    conn=CONN,
) -> dict:
    casedesk.request_change(conn, principal, incident_id, body.kind, body.reason, body.working_days)
    return casedesk.case_view(conn, principal, incident_id)


@router.post(
    "/api/incidents/{incident_id}/requests/decision",
    summary="Approve or refuse the case's pending request (supervisor, admin)",
)
def decide(
    body: DecisionIn,
    incident_id: str = INCIDENT_ID,
    principal: Principal = Depends(require(Permission.SUPERVISE_CASES)),
    conn=CONN,
) -> dict:
    casedesk.decide_request(conn, principal, incident_id, body.approve, body.note)
    return casedesk.case_view(conn, principal, incident_id)


@router.post(
    "/api/incidents/{incident_id}/photos",
    status_code=201,
    summary="Add a photo (JPEG, PNG, WebP; EXIF stripped)",
)
def add_photo(
    file: UploadFile = File(..., description="the image"),
    stage: Literal["report", "before", "after"] | None = Form(None),
    incident_id: str = INCIDENT_ID,
    principal: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=CONN,
) -> dict:
    data = file.file.read(get_settings().photo_max_bytes + 1)
    return photos.add_photo(conn, principal, incident_id, data, stage)


@router.post(
    "/api/photos/check",
    summary="Check a photo before filing a case: 200 with what would be stored, or 422",
)
def check_photo(
    file: UploadFile = File(..., description="the image"),
    _: Principal = Depends(require(Permission.REPORT_INCIDENTS)),
) -> dict:
    return photos.check_photo(file.file.read(get_settings().photo_max_bytes + 1))


@router.get(
    "/api/incidents/{incident_id}/photos/{photo_id}",
    summary="A photo of a case you may see (size=thumb: its thumbnail)",
    response_class=FileResponse,
)
def read_photo(
    incident_id: str = INCIDENT_ID,
    photo_id: int = Path(..., ge=1),
    size: Literal["full", "thumb"] = Query("full"),
    principal: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=CONN,
) -> FileResponse:
    path, media_type = photos.photo_file(conn, principal, incident_id, photo_id, size == "thumb")
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/api/calendar/{year}", summary="A year's holidays and make-up working days")
def calendar_year(
    year: int = Path(..., ge=2000, le=2040),
    _: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=CONN,
) -> dict:
    return workcalendar.calendar_rows(conn, year)


@router.put("/api/calendar/days/{day}", summary="Override one day of the calendar (admin)")
def calendar_day(
    body: CalendarDayIn,
    day: date,
    principal: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> dict:
    workcalendar.set_day(conn, day, body.working, body.note, principal.actor)
    return workcalendar.calendar_rows(conn, day.year)
