"""Pieces shared by the incident map pages (heat, weekly, hotspots): the empty-selection
notice, the filter form, the links between the pages and the notice about sensitive cases."""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from geo.access.roles import Principal
from geo.cases.selection import LOCAL, IncidentFilter, hides_sensitive
from geo.core.terms import LABELS, IncidentStatus

EMPTY = "该条件下没有事件 · No incidents match these filters in this window"


def sensitive_notice(principal: Principal, categories: dict) -> str | None:
    if not hides_sensitive(principal):
        return None
    names = "、".join(c["name_zh"] for c in categories.values() if c["sensitive"])
    if not names:
        return None
    if principal.scope_codes:
        return f"{names}事件仅显示本人所辖网格 · sensitive cases shown in your own grids only"
    return f"{names}事件不向本角色显示 · sensitive cases are not shown to your role"


def filter_form(
    action: str,
    f: IncidentFilter,
    categories: dict,
    units,
    principal: Principal,
    with_since: bool = True,
) -> str:
    """The page's filter controls: a GET form that reloads the page with new parameters
    (`with_since=False` where the page sets the window's start itself)."""

    def options(pairs, chosen) -> str:
        return "".join(
            f'<option value="{html.escape(v)}"{" selected" if v in chosen else ""}>'
            f"{html.escape(t)}</option>"
            for v, t in pairs
        )

    visible = {
        c: v
        for c, v in categories.items()
        if not (v["sensitive"] and hides_sensitive(principal) and not principal.scope_codes)
    }
    cats = [("", "全部 all")] + [(c, f"{v['name_zh']} {v['name_en']}") for c, v in visible.items()]
    stats = [("", "全部 all")] + [(s.value, " ".join(LABELS[s])) for s in IncidentStatus]
    grids = [("", "全街道 whole district")] + [
        (r.code, f"{'　' * ['community', 'grid2', 'sector'].index(r.level)}{r.name_zh}")
        for r in units.itertuples()
    ]

    def day(moment: datetime | None, end: bool = False) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(LOCAL)
        if end and local.time() == datetime.min.time():
            local -= timedelta(days=1)  # `until` is exclusive; the form shows the last day
        return local.strftime("%Y-%m-%d")

    return (
        '<details class="gm-filters"><summary>筛选 · Filters</summary>'
        f'<form method="get" action="{html.escape(action)}">'
        f'<label for="gm-cat">类别 Category</label><select id="gm-cat" name="category">'
        f"{options(cats, f.categories)}</select>"
        f'<label for="gm-status">状态 Status</label><select id="gm-status" name="status">'
        f"{options(stats, f.statuses)}</select>"
        + (
            f'<label for="gm-since">自 Since</label><input id="gm-since" type="date" '
            f'name="since" value="{day(f.since)}">'
            if with_since
            else ""
        )
        + f'<label for="gm-until">至 Until</label><input id="gm-until" type="date" name="until" '
        f'value="{day(f.until, end=True)}">'
        f'<label for="gm-grid">网格 Grid</label><select id="gm-grid" name="grid">'
        f"{options(grids, [f.grid or ''])}</select>"
        '<button type="submit">应用 · Apply</button></form></details>'
    )


def page_links(f: IncidentFilter) -> str:
    query = f.query()
    suffix = f"?{html.escape(query)}" if query else ""
    return (
        '<div class="gm-sub">'
        f'<a href="/maps/incidents{suffix}">热力 heat</a> · '
        f'<a href="/maps/incidents/weekly{suffix}">按周 weekly</a> · '
        f'<a href="/maps/hotspots{suffix}">显著热点 hotspots</a></div>'
    )
