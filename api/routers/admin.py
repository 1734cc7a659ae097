"""The admin's screens and their API: the district's people and partner organisations
(`geo.people.staff`) and the incident categories (`geo.cases.categories`). Admin only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CONN
from api.security import require
from api.web import page_language, render
from geo.access.roles import Permission, Principal, Role
from geo.cases import categories, overrides
from geo.core.terms import BranchType
from geo.people import staff

router = APIRouter(tags=["admin"])

PEOPLE = require(Permission.MANAGE_PEOPLE)
CONFIGURE = require(Permission.CONFIGURE)
PERSON_ID = Path(..., max_length=40, description="e.g. W001, O03, PB05, C12")
CATEGORY_CODE = Path(..., max_length=32, description="e.g. sanitation")
StaffKindName = Literal["grid_worker", "stationed_officer", "party_branch", "cobuilding_unit"]


class PersonIn(BaseModel):
    """A new grid worker, stationed officer, party branch or co-building unit."""

    model_config = ConfigDict(extra="forbid")

    kind: StaffKindName
    id: str | None = Field(None, max_length=40, description="default: the kind's next id")
    name_zh: str = Field(..., max_length=120)
    name_en: str | None = Field(None, max_length=160)
    phone: str | None = Field(None, max_length=20)
    branch_type: str | None = Field(
        None, description=f"party branches: {', '.join(b.value for b in BranchType)}"
    )
    serves_code: str | None = Field(
        None, max_length=32, description="the current sector or grid it serves"
    )


class PersonChange(BaseModel):
    """Give only what changes."""

    model_config = ConfigDict(extra="forbid")

    name_zh: str | None = Field(None, max_length=120)
    name_en: str | None = Field(None, max_length=160)
    phone: str | None = Field(None, max_length=20)
    branch_type: str | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serves_code: str | None = Field(
        ..., max_length=32, description="a current sector or grid; null: serves none"
    )


class RetireIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


class CategoryIn(BaseModel):
    """A new incident category: one closing limit, on the clock or in working days."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., max_length=32, description="lower-case letters, digits and _")
    name_zh: str = Field(..., max_length=40)
    name_en: str = Field(..., max_length=80)
    urgent: bool = False
    sensitive: bool = False
    dispatch_minutes: int
    close_minutes: int | None = None
    close_working_days: int | None = None


# -- people ---------------------------------------------------------------------------------


@router.get(
    "/api/admin/people", summary="Grid workers, officers, party branches, co-building units"
)
def list_people(
    kind: StaffKindName | None = Query(None, description="one kind; default all four"),
    retired: bool = Query(False, description="the retired ones instead of the active ones"),
    principal: Principal = Depends(PEOPLE),
    conn=CONN,
) -> list[dict]:
    return staff.people(conn, kind, retired, reader=principal)


@router.post("/api/admin/people", status_code=201, summary="Add a person or organisation")
def add_person(body: PersonIn, principal: Principal = Depends(PEOPLE), conn=CONN) -> dict:
    values = body.model_dump(exclude={"kind"})
    return staff.add_person(conn, principal, body.kind, values)


@router.get("/api/admin/people/{person_id}", summary="One record, retired or not")
def read_person(
    person_id: str = PERSON_ID, principal: Principal = Depends(PEOPLE), conn=CONN
) -> dict:
    return staff.person(conn, person_id, reader=principal)


@router.patch("/api/admin/people/{person_id}", summary="Change names, phone or branch type")
def edit_person(
    body: PersonChange,
    person_id: str = PERSON_ID,
    principal: Principal = Depends(PEOPLE),
    conn=CONN,
) -> dict:
    return staff.edit_person(conn, principal, person_id, body.model_dump(exclude_unset=True))


@router.post(
    "/api/admin/people/{person_id}/assign",
    summary="Assign to a sector or grid (a grid worker's open cases follow)",
)
def assign_person(
    body: AssignIn,
    person_id: str = PERSON_ID,
    principal: Principal = Depends(PEOPLE),
    conn=CONN,
) -> dict:
    return staff.assign_person(conn, principal, person_id, body.serves_code)


@router.post(
    "/api/admin/people/{person_id}/retire",
    summary="Retire: out of lists, dispatch and coverage; kept for history",
)
def retire_person(
    body: RetireIn | None = None,
    person_id: str = PERSON_ID,
    principal: Principal = Depends(PEOPLE),
    conn=CONN,
) -> dict:
    return staff.retire_person(conn, principal, person_id, body.reason if body else None)


@router.get("/api/admin/sectors", summary="Every sector with who serves it")
def sector_service(principal: Principal = Depends(PEOPLE), conn=CONN) -> list[dict]:
    return staff.sector_service(conn, reader=principal)


# -- incident categories --------------------------------------------------------------------


@router.get("/api/admin/categories", summary="Every incident category, retired ones too")
def list_categories(_: Principal = Depends(CONFIGURE), conn=CONN) -> list[dict]:
    return categories.category_table(conn, retired=True)


@router.post("/api/admin/categories", status_code=201, summary="Add an incident category")
def add_category(body: CategoryIn, principal: Principal = Depends(CONFIGURE), conn=CONN) -> dict:
    return categories.add_category(conn, principal, body.model_dump())


@router.post(
    "/api/admin/categories/{code}/retire",
    summary="Retire a category (refused while open cases use it)",
)
def retire_category(
    code: str = CATEGORY_CODE, principal: Principal = Depends(CONFIGURE), conn=CONN
) -> dict:
    return categories.retire_category(conn, principal, code)


@router.get(
    "/api/admin/category-overrides",
    summary="The sub-districts' own category settings (a sub-district: its own; the city: all)",
)
def list_overrides(_: Principal = Depends(CONFIGURE), conn=CONN) -> list[dict]:
    return overrides.overrides(conn)


@router.post(
    "/api/admin/categories/{code}/reset",
    summary="Back to the city-wide default: remove the caller's sub-district's override",
)
def reset_category(
    code: str = CATEGORY_CODE, principal: Principal = Depends(CONFIGURE), conn=CONN
) -> dict:
    return overrides.reset_override(conn, principal, code)


# -- the pages ------------------------------------------------------------------------------


@router.get("/admin/people", response_class=HTMLResponse, summary="People admin page")
def people_page(
    request: Request,
    kind: StaffKindName = "grid_worker",
    lang: str = Depends(page_language),
    principal: Principal = Depends(PEOPLE),
    conn=CONN,
) -> HTMLResponse:
    return render(
        request,
        "admin_people.html",
        lang,
        principal,
        kind=kind,
        kinds=list(staff.STAFF_KINDS),
        person_kind=staff.STAFF_KINDS[kind].person,
        branch_types=[b.value for b in BranchType],
        **staff.people_screen(conn, kind, principal),
    )


@router.get("/admin/categories", response_class=HTMLResponse, summary="Categories admin page")
def categories_page(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(CONFIGURE),
    conn=CONN,
) -> HTMLResponse:
    rows = overrides.admin_screen(conn, principal)
    return render(
        request,
        "admin_categories.html",
        lang,
        principal,
        active=[r for r in rows if r["retired_at"] is None],
        retired=[r for r in rows if r["retired_at"] is not None],
        ranges=categories.LIMIT_RANGES,
        city_wide=categories.speaks_for_city(conn, principal),
        own_defaults=principal.has(Role.CITY),
    )
