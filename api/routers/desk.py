"""The case desk's pages: report (`/cases/new`), my cases (`/cases`), one case
(`/cases/{id}`) and the command centre (`/desk`). Rendered on the server from
`geo.cases.desk`; their scripts (`static/web/cases.js`) post to the JSON API and reload."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CONN
from api.security import require
from api.web import page_language, render
from geo.access.roles import Permission, Principal
from geo.cases import categories
from geo.cases import desk as casedesk
from geo.publish.messages import messages_for

router = APIRouter(tags=["pages"])

#: the filters of "my cases": name → (state, overdue)
CASE_FILTERS = {
    "open": ("open", None),
    "overdue": ("open", True),
    "closed": ("closed", None),
    "all": ("all", None),
}


#: cases on one page of "my cases" and of the command centre; "more" opens the next page
PAGE_SIZE = 50
PAGE_OFFSET = Query(0, ge=0, le=1_000_000, description="the first case shown (paging)")


def _script_messages(lang: str) -> dict[str, str]:
    return messages_for(lang, "cases.", "case.")


@router.get("/cases/new", response_class=HTMLResponse, summary="Report a case (page)")
def report_page(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.REPORT_INCIDENTS)),
    conn=CONN,
) -> HTMLResponse:
    return render(
        request,
        "case_new.html",
        lang,
        principal,
        categories=categories.category_table(conn),
        messages=_script_messages(lang),
    )


@router.get("/cases", response_class=HTMLResponse, summary="My cases (page)")
def my_cases_page(
    request: Request,
    show: Literal["open", "overdue", "closed", "all"] = "open",
    offset: int = PAGE_OFFSET,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=CONN,
) -> HTMLResponse:
    state, overdue = CASE_FILTERS[show]
    listing = casedesk.case_list(
        conn,
        principal,
        assigned="me",
        state=state,
        overdue=overdue,
        limit=PAGE_SIZE,
        offset=offset,
    )
    return render(
        request,
        "cases.html",
        lang,
        principal,
        listing=listing,
        show=show,
        filters=list(CASE_FILTERS),
        messages=_script_messages(lang),
    )


@router.get("/cases/{incident_id}", response_class=HTMLResponse, summary="One case (page)")
def case_page(
    request: Request,
    incident_id: str = Path(..., max_length=40),
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.READ_INCIDENTS)),
    conn=CONN,
) -> HTMLResponse:
    case = casedesk.case_view(conn, principal, incident_id)
    return render(request, "case.html", lang, principal, case=case, messages=_script_messages(lang))


@router.get("/desk", response_class=HTMLResponse, summary="Command centre (page)")
def desk_page(
    request: Request,
    offset: int = PAGE_OFFSET,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.SUPERVISE_CASES)),
    conn=CONN,
) -> HTMLResponse:
    listing = casedesk.case_list(
        conn, principal, area="me", state="open", limit=PAGE_SIZE, offset=offset
    )
    workers = casedesk.workers_by_case(conn, [c["id"] for c in listing["cases"]])
    return render(
        request,
        "desk.html",
        lang,
        principal,
        listing=listing,
        workers=workers,
        messages=_script_messages(lang),
    )
