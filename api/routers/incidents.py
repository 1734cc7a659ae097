"""The case loop over HTTP: report an incident, read it with its history, move it through
its states, add notes; and the incident categories with their time limits."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CONN
from api.params import IsoDateTime
from api.security import current_principal, require
from geo.access.roles import Permission, Principal
from geo.cases import categories, incidents, overrides, replay
from geo.cases import desk as casedesk
from geo.cases.incidents import IncidentReport
from geo.core.coords import CoordSystem
from geo.core.terms import IncidentStatus

router = APIRouter(tags=["incidents"])

INCIDENT_ID = Path(..., max_length=40, description="e.g. I0000025001")


class IncidentIn(BaseModel):
    """A report from the field."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(..., description="longitude, in `crs`")
    lat: float = Field(..., description="latitude, in `crs`")
    crs: str = Field("wgs84", description=f"one of {', '.join(c.value for c in CoordSystem)}")
    category: str = Field(..., max_length=32, description="a code from GET /api/categories")
    description: str | None = Field(None, max_length=2000)
    observed_at: IsoDateTime = Field(
        ..., description="when it was seen; ISO 8601, Beijing time if no offset; not in future"
    )
    reporter_contact: str | None = Field(
        None, max_length=40, description="how to reach the reporter (personal data: masked)"
    )


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: IncidentStatus = Field(..., description="the state to move to")
    note: str | None = Field(None, max_length=2000, description="required to reject or send back")
    at: IsoDateTime | None = Field(
        None, description="when (default now); not before the last event"
    )
    duplicate_of: str | None = Field(
        None, max_length=40, description="with to=duplicate: the original incident"
    )
    expect: IncidentStatus | None = Field(
        None, description="the state the case must be in now (else 409): an offline decision"
    )


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(..., min_length=1, max_length=2000)
    at: IsoDateTime | None = None


class CategoryChange(BaseModel):
    """Give only what changes. `close_minutes` switches to a limit on the clock,
    `close_working_days` to one in working days. A sub-district's admin changes the
    category for their sub-district only; a city administrator changes the default."""

    model_config = ConfigDict(extra="forbid")

    name_zh: str | None = Field(None, min_length=1, max_length=40)
    name_en: str | None = Field(None, min_length=1, max_length=80)
    urgent: bool | None = None
    dispatch_minutes: int | None = None
    close_minutes: int | None = None
    close_working_days: int | None = None
    #: false: this sub-district takes no reports of the category (true: it does again)
    enabled: bool | None = None


@router.post(
    "/api/incidents",
    status_code=201,
    summary="Report an incident: attached, dispatched, with its deadline and nearby duplicates",
)
def report(
    body: IncidentIn,
    response: Response,
    idempotency_key: str | None = Header(
        None, description="makes a repeated submission a no-op returning the first result"
    ),
    principal: Principal = Depends(require(Permission.REPORT_INCIDENTS)),
    conn=CONN,
) -> dict:
    view, replayed = incidents.report_incident(
        conn, principal, IncidentReport(**body.model_dump()), idempotency_key
    )
    response.headers["Location"] = f"/api/incidents/{view['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return view


@router.get(
    "/api/incidents/{incident_id}",
    summary="One incident with its history, photos, requests and the caller's actions",
)
def read(
    incident_id: str = INCIDENT_ID,
    principal: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=CONN,
) -> dict:
    return casedesk.case_view(conn, principal, incident_id)


@router.post(
    "/api/incidents/{incident_id}/transitions",
    summary="Move an incident through the case loop (see the README's table of who may)",
)
def move(
    body: TransitionIn,
    response: Response,
    incident_id: str = INCIDENT_ID,
    idempotency_key: str | None = Header(
        None, description="a repeat with the same key returns the first answer, moving nothing"
    ),
    principal: Principal = Depends(require(Permission.UPDATE_INCIDENTS)),
    conn=CONN,
) -> dict:
    answer, replayed = replay.once(
        conn,
        principal,
        incident_id,
        "transitions",
        body.model_dump(exclude={"expect"}),
        idempotency_key,
        body.expect,
        lambda: incidents.change_status(
            conn, principal, incident_id, body.to, body.note, body.at, body.duplicate_of
        ),
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer


@router.post("/api/incidents/{incident_id}/notes", summary="Add a note to an incident's history")
def note(
    body: NoteIn,
    incident_id: str = INCIDENT_ID,
    principal: Principal = Depends(require(Permission.UPDATE_INCIDENTS)),
    conn=CONN,
) -> dict:
    return incidents.note_incident(conn, principal, incident_id, body.note, body.at)


@router.get(
    "/api/categories",
    summary="Incident categories that can be reported, with their running time limits",
)
def list_categories(_: Principal = Depends(current_principal), conn=CONN) -> list[dict]:
    return categories.category_table(conn)


@router.patch(
    "/api/categories/{code}",
    summary="Rename a category, change its time limits or switch it off, for the caller's "
    "sub-district (admin; a city administrator: the city-wide default)",
)
def configure_category(
    body: CategoryChange,
    code: str = Path(..., max_length=32),
    principal: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> dict:
    return overrides.configure(conn, principal, code, body.model_dump(exclude_unset=True))
