"""The people's pages: the home page per role (`/`) and the coverage table (`/coverage`).

What a role sees follows `geo.access.roles.ROLE_PERMISSIONS`: each link on the home page names
the permissions it needs, and the pages themselves require theirs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CONN
from api.routers.coverage import MEDIA
from api.security import require
from api.web import page_language, render
from geo.access.roles import Permission, Principal
from geo.insight import coverage as cov
from geo.insight.evaluation import period_presets
from geo.insight.summary import district_summary

router = APIRouter(tags=["pages"])

#: levels in the order people read them, coarse to fine
LEVELS = tuple(reversed(cov.LEVELS))
#: the coverage exports `GET /api/coverage?format=` offers
EXPORT_FORMATS = tuple(MEDIA)


@dataclass(frozen=True)
class PageLink:
    """A link on the home page: its label is the message `key` (and `key.desc`)."""

    section: str
    key: str
    href: str
    needs: frozenset[Permission]


#: the home page's links, in order; a role sees those whose permissions it has
HOME_LINKS = (
    PageLink("cases", "cases.nav", "/cases", frozenset({Permission.READ_INCIDENTS})),
    PageLink("cases", "cases.report_nav", "/cases/new", frozenset({Permission.REPORT_INCIDENTS})),
    PageLink("cases", "cases.desk_nav", "/desk", frozenset({Permission.SUPERVISE_CASES})),
    PageLink("maps", "maps.incidents", "/maps/incidents", frozenset({Permission.VIEW_MAPS})),
    PageLink("maps", "maps.hotspots", "/maps/hotspots", frozenset({Permission.VIEW_MAPS})),
    PageLink(
        "maps",
        "maps.coverage",
        "/maps/coverage",
        frozenset({Permission.VIEW_MAPS, Permission.READ_COVERAGE}),
    ),
    PageLink("data", "coverage.table", "/coverage", frozenset({Permission.READ_COVERAGE})),
    PageLink("data", "eval.table", "/evaluation", frozenset({Permission.READ_COVERAGE})),
    PageLink("data", "gis", "/ogc?f=html", frozenset({Permission.READ_UNITS})),
    PageLink("planning", "editor", "/maps/planner", frozenset({Permission.EDIT_BOUNDARIES})),
    PageLink("admin", "users.title", "/admin/users", frozenset({Permission.MANAGE_USERS})),
    PageLink("admin", "admin.people", "/admin/people", frozenset({Permission.MANAGE_PEOPLE})),
    PageLink("admin", "admin.categories", "/admin/categories", frozenset({Permission.CONFIGURE})),
    PageLink("admin", "webhooks.nav", "/admin/webhooks", frozenset({Permission.CONFIGURE})),
)

#: columns the table shows in their own way (the unit's name and code)
_IDENTITY = frozenset({"code", "name_zh", "name_en", "parent_code"})


def home_sections(principal: Principal) -> list[tuple[str, list[PageLink]]]:
    """The home page's sections with the links `principal` may follow, empty ones left out."""
    sections: dict[str, list[PageLink]] = {}
    for link in HOME_LINKS:
        if all(principal.can(p) for p in link.needs):
            sections.setdefault(link.section, []).append(link)
    return list(sections.items())


@router.get("/", response_class=HTMLResponse, summary="Home page for the signed-in role")
def home(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.READ_UNITS)),
    conn=CONN,
) -> HTMLResponse:
    can_read_coverage = principal.can(Permission.READ_COVERAGE)
    return render(
        request,
        "home.html",
        lang,
        principal,
        summary=district_summary(conn, principal),
        levels=LEVELS,
        sees_sensitive=principal.can(Permission.SENSITIVE_INCIDENTS),
        sections=home_sections(principal),
        downloads=tuple(reversed(cov.levels_for(principal))) if can_read_coverage else (),
        formats=EXPORT_FORMATS,
    )


@router.get(
    "/coverage",
    response_class=HTMLResponse,
    summary="Coverage table page: one row per unit, sortable and filterable",
)
def coverage_page(
    request: Request,
    level: Literal["sector", "grid2", "community", "subdistrict"] = "sector",
    since: date | None = Query(None, description="first Beijing day of the period"),
    until: date | None = Query(None, description="last Beijing day of the period, included"),
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=CONN,
) -> HTMLResponse:
    report = cov.coverage(conn, principal, level, since, until)
    period = {"since": report.since.isoformat(), "until": report.until.isoformat()}
    columns = [
        {"key": key, "extra": key not in cov.KEY_METRICS}
        for key, _zh, _en in cov.METRICS
        if key not in _IDENTITY
    ]
    flag_counts = Counter(f["flag"] for row in report.rows for f in row["flags"])
    return render(
        request,
        "coverage.html",
        lang,
        principal,
        report=report,
        level=level,
        levels=tuple(reversed(cov.levels_for(principal))),
        columns=columns,
        flag_keys=list(cov.FLAGS),
        flag_counts=flag_counts,
        flagged_units=sum(1 for row in report.rows if row["flags"]),
        formats=EXPORT_FORMATS,
        period=period,
        presets=period_presets(),
        chosen=bool(since or until),
    )
