"""The planners' grid editor page (`/maps/planner`): the sectors on a Leaflet map with
vertex editing, the boundary-planning API's preview beside it, apply with the ETag,
history, the grid as it was, split, merge and reassign.

The page is a template and one script (`static/web/editor.js`); everything it shows it
reads from the boundary and coverage APIs with the planner's session, and every label
comes from `geo.publish.messages`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.deps import CONN
from api.security import require
from api.web import page_language, render
from geo.access.roles import Permission, Principal
from geo.maps.editor import editor_config
from geo.planning.balance import district_balance

router = APIRouter(tags=["pages"])


@router.get(
    "/maps/planner",
    response_class=HTMLResponse,
    summary="Grid editor for planners: move borders, split, merge, reassign (page)",
)
def planner_page(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.EDIT_BOUNDARIES)),
) -> HTMLResponse:
    return render(request, "editor.html", lang, principal, editor=editor_config(lang))


@router.get(
    "/api/planning/balance",
    tags=["boundaries"],
    summary="Households and cases per worker of every sector and level-2 grid, "
    "compactness, households per courtyard",
)
def balance_api(
    _: Principal = Depends(require(Permission.EDIT_BOUNDARIES)),
    conn=CONN,
) -> dict:
    return district_balance(conn)
