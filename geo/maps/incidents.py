"""The patrols' incident maps: the heat of the selected incidents over the grid boundaries,
and the same heat week by week on a time slider. Pages are cached (`geo.publish.cache`).

    >>> page = incident_page(conn, principal, category=["dispute"])      # doctest: +SKIP
    >>> page.path.read_text()[:15]                                       # doctest: +SKIP
    '<!DOCTYPE html>'
"""

from __future__ import annotations

from datetime import datetime, timedelta

import folium
import numpy as np
import pandas as pd
from folium.plugins import HeatMapWithTime
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.cases.selection import (
    LOCAL,
    IncidentFilter,
    category_codes,
    data_end,
    describe,
    incident_filter,
    selection,
    visibility_class,
)
from geo.core.errors import InvalidInput
from geo.maps.assets import localise
from geo.maps.datum import shift_lonlat
from geo.maps.heat import lattice_steps, pack
from geo.maps.heat_cells import kept_heat
from geo.maps.layers import PackedHeat, add_unit_layers, current_units, district_bounds, rolled_up
from geo.maps.offline import add_notice, add_top_html, offline_map, render_html
from geo.maps.orientation import add_orientation
from geo.maps.pages import EMPTY, filter_form, page_links, sensitive_notice
from geo.publish.cache import CachedPage, cached_page

#: the weekly view: default length, longest window, lattice and page budget
WEEKLY_DEFAULT_WEEKS = 26
WEEKLY_MAX_WEEKS = 156
WEEKLY_CELL_M = 20.0
WEEKLY_MAX_CELLS = 60_000


def build_incident_map(conn: Connection, principal: Principal, f: IncidentFilter) -> str:
    """The heat map page of the incidents `f` selects that `principal` may see."""
    categories = category_codes(conn)
    heat = kept_heat(conn, principal, f)  # aggregates kept ahead of time (0017h)
    units = current_units(conn)
    m = offline_map(
        district_bounds(conn, f.grid),
        title="事件热力图 · Incident heat map",
        subtitle=f"{describe(f, categories)} · {heat.total:,} 件 incidents",
    )
    add_orientation(m, conn)
    add_top_html(m, page_links(f))
    if heat.total == 0:
        add_notice(m, EMPTY, "gm-empty")
    notice = sensitive_notice(principal, categories)
    if notice:
        add_notice(m, notice)
    lon, lat = shift_lonlat(heat.lon, heat.lat, m.datum)
    localise(PackedHeat(pack(lon, lat, heat.count), name="事件热力 · incident heat")).add_to(m)
    add_unit_layers(m, units, rolled_up(heat.by_sector))
    add_top_html(m, filter_form("/maps/incidents", f, categories, units, principal))
    folium.LayerControl(collapsed=True).add_to(m)
    return render_html(m)


def incident_page(conn: Connection, principal: Principal, **query) -> CachedPage:
    """`GET /maps/incidents`: the cached heat map for the query (category, status, since,
    until, grid), built if the data changed since it was cached."""
    f = incident_filter(conn, **query)
    return cached_page(
        conn,
        "incidents",
        f.key(),
        visibility_class(principal),
        lambda: build_incident_map(conn, principal, f),
    )


def weekly_window(conn: Connection, principal: Principal, f: IncidentFilter) -> IncidentFilter:
    """`f` with a bounded window: by default the 26 weeks up to `until` or the latest
    incident; `InvalidInput` over 156 weeks."""
    end = f.until or data_end(conn, principal)
    if end is None:
        return f
    start = f.since or end - timedelta(weeks=WEEKLY_DEFAULT_WEEKS)
    if (end - start) > timedelta(weeks=WEEKLY_MAX_WEEKS):
        raise InvalidInput(
            f"the weekly view shows at most {WEEKLY_MAX_WEEKS} weeks; "
            f"this window has {(end - start).days // 7}: narrow since/until",
            field="since",
        )
    return IncidentFilter(f.categories, f.statuses, start, end, f.grid, f.grid_name)


WEEKLY_SQL = """
SELECT floor(extract(epoch FROM i.observed_at - :start) / 604800)::int AS week,
       floor(ST_X(i.geom) / :dlon)::int AS cx, floor(ST_Y(i.geom) / :dlat)::int AS cy,
       count(*) AS n, sum(ST_X(i.geom)) AS sx, sum(ST_Y(i.geom)) AS sy
FROM incidents i WHERE {where}
GROUP BY 1, 2, 3
"""


def weekly_cells(conn: Connection, where: str, params: dict, start: datetime) -> pd.DataFrame:
    """Selected incidents per week (from `start`) and lattice cell: week, n, lon, lat;
    cells merged 2 x 2 until all weeks together fit the page budget."""
    cell_m = WEEKLY_CELL_M
    dlon, dlat = lattice_steps(cell_m)
    result = conn.execute(
        text(WEEKLY_SQL.format(where=where)),
        {**params, "start": start, "dlon": dlon, "dlat": dlat},
    )
    cells = pd.DataFrame([tuple(r) for r in result], columns=["week", "cx", "cy", "n", "sx", "sy"])
    while len(cells) > WEEKLY_MAX_CELLS:
        cells["cx"] //= 2
        cells["cy"] //= 2
        keys = ["week", "cx", "cy"]
        cells = cells.groupby(keys, sort=False)[["n", "sx", "sy"]].sum().reset_index()
    cells["lon"] = cells["sx"] / cells["n"]
    cells["lat"] = cells["sy"] / cells["n"]
    return cells[["week", "n", "lon", "lat"]]


def build_weekly_map(conn: Connection, principal: Principal, f: IncidentFilter) -> str:
    """The time-slider page: one heat frame per week of `f`'s window."""
    categories = category_codes(conn)
    units = current_units(conn)
    f = weekly_window(conn, principal, f)
    where, params = selection(principal, f)
    weeks = 0
    cells = pd.DataFrame(columns=["week", "n", "lon", "lat"])
    if f.since and f.until:
        weeks = max(1, int(np.ceil((f.until - f.since) / timedelta(weeks=1))))
        cells = weekly_cells(conn, where, params, f.since)
    m = offline_map(
        district_bounds(conn, f.grid),
        title="每周事件热力 · Incidents week by week",
        subtitle=f"{describe(f, categories)} · {int(cells['n'].sum()):,} 件 incidents",
    )
    add_orientation(m, conn)
    add_top_html(m, page_links(f))
    total = int(cells["n"].sum())
    if total == 0:
        add_notice(m, EMPTY, "gm-empty")
    notice = sensitive_notice(principal, categories)
    if notice:
        add_notice(m, notice)
    lon, lat = shift_lonlat(cells["lon"].to_numpy(float), cells["lat"].to_numpy(float), m.datum)
    # 0–1 against the 99th percentile, so one market's peak week does not wash out the rest
    n = cells["n"].to_numpy(float)
    weight = np.minimum(1.0, n / max(1.0, float(np.quantile(n, 0.99)) if total else 1.0))
    frame = pd.DataFrame(
        {"week": cells["week"], "lat": lat.round(5), "lon": lon.round(5), "w": weight.round(4)}
    )
    by_week = {w: g[["lat", "lon", "w"]].values.tolist() for w, g in frame.groupby("week")}
    data = [by_week.get(w, []) for w in range(weeks)] or [[]]
    index = [
        f"{(f.since + timedelta(weeks=w)).astimezone(LOCAL):%Y-%m-%d} 起一周 week of"
        for w in range(weeks)
    ] or ["—"]
    layer = HeatMapWithTime(
        data,
        index=index,
        name="每周热力 · weekly heat",
        radius=18,
        min_opacity=0.05,
        max_opacity=0.8,
        auto_play=False,
        position="bottomleft",
    )
    localise(layer).add_to(m)
    add_unit_layers(m, units, show_sectors=False)
    add_top_html(m, filter_form("/maps/incidents/weekly", f, categories, units, principal))
    folium.LayerControl(collapsed=True).add_to(m)
    return render_html(m)


def weekly_page(conn: Connection, principal: Principal, **query) -> CachedPage:
    """`GET /maps/incidents/weekly`: the cached time-slider page for the query."""
    f = incident_filter(conn, **query)
    return cached_page(
        conn,
        "weekly",
        f.key(),
        visibility_class(principal),
        lambda: build_weekly_map(conn, principal, f),
    )
