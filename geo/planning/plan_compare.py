"""A plan side by side with the layer in force or with another plan: per sector households,
residents, incidents and grid workers on each side, what moved between the sides, and the
sectors of both as GeoJSON.

    >>> compare(conn, 3, "current", "planner:王规划")["moved"]["households"]["total"]
    31
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput
from geo.core.settings import get_settings
from geo.planning.geometry import collection, feature, same_shape
from geo.planning.layer import load_state
from geo.planning.plans import replayed, utcnow

CURRENT = "current"


@dataclass
class Side:
    """One side of a comparison: what it is, its sectors, where each point lies."""

    label: str
    plan: int | None
    sectors: pd.DataFrame  # index code: name_zh, grid2, geometry
    households: pd.Series  # id → sector_code
    incidents: pd.Series  # id → sector_code
    workers: pd.Series  # id → serves_code (active grid workers)


def _series(conn: Connection, sql: str) -> pd.Series:
    rows = conn.execute(text(sql)).all()
    return pd.Series({k: v for k, v in rows}, dtype=object)


def _snapshot(conn: Connection, label: str, plan: int | None) -> Side:
    state = load_state(conn, utcnow())
    return Side(
        label=label,
        plan=plan,
        sectors=pd.DataFrame(state.sectors[["name_zh", "grid2", "geometry"]]),
        households=_series(conn, "SELECT id, sector_code FROM households"),
        incidents=_series(conn, "SELECT id, sector_code FROM incidents"),
        workers=_series(
            conn,
            "SELECT id, serves_code FROM resources WHERE kind = 'grid_worker' "
            "AND retired_at IS NULL",
        ),
    )


def side(conn: Connection, plan_id: int | None, actor: str) -> Side:
    """The layer in force (None), or what plan `plan_id`'s edits in force make of it."""
    if plan_id is None:
        return _snapshot(conn, "现行图层 · layer in force", None)
    with replayed(conn, plan_id, actor) as plan:
        return _snapshot(conn, f"方案 #{plan_id} {plan['name']}", plan_id)


def _flows(before: pd.Series, after: pd.Series) -> dict:
    """Points whose sector differs between the sides: total and per (from, to)."""
    both = pd.DataFrame({"from": before, "to": after}).dropna(how="all")
    moved = both[both["from"].fillna("") != both["to"].fillna("")]
    flows = (
        moved.fillna("").groupby(["from", "to"]).size().sort_values(ascending=False).reset_index()
    )
    return {
        "total": len(moved),
        "ids": moved.index,
        "flows": [
            {"from": f or None, "to": t or None, "count": int(n)}
            for f, t, n in flows.itertuples(index=False)
        ],
    }


def _rows(before: Side, after: Side, residents: pd.Series) -> list[dict]:
    """Per sector on either side: the figures before (the `with` side) and after (the plan)."""
    target = get_settings().households_per_worker_target

    def figures(s: Side, prefix: str) -> pd.DataFrame:
        hh = s.households.dropna()
        return pd.DataFrame(
            {
                f"households_{prefix}": hh.value_counts(),
                f"residents_{prefix}": residents.reindex(hh.index).fillna(0).groupby(hh).sum(),
                f"incidents_{prefix}": s.incidents.dropna().value_counts(),
                f"workers_{prefix}": s.workers.dropna().value_counts(),
            }
        )

    codes = sorted(set(before.sectors.index) | set(after.sectors.index))
    table = pd.concat([figures(before, "before"), figures(after, "after")], axis=1)
    table = table.reindex(codes).fillna(0).astype(int)
    out = []
    for code, r in table.iterrows():
        row = {"code": code, "name_zh": _name(code, after, before), **r.to_dict()}
        for when in ("before", "after"):
            w = row[f"workers_{when}"]
            row[f"households_per_worker_{when}"] = (
                round(row[f"households_{when}"] / w, 1) if w else None
            )
        row["in_before"], row["in_after"] = (
            code in before.sectors.index,
            code in after.sectors.index,
        )
        row["changed"] = not (
            row["in_before"]
            and row["in_after"]
            and same_shape(before.sectors.at[code, "geometry"], after.sectors.at[code, "geometry"])
        )
        out.append(row)
    return [dict(r, target=target) for r in out]


def _name(code: str, *sides: Side) -> str | None:
    for s in sides:
        if code in s.sectors.index:
            return s.sectors.at[code, "name_zh"]
    return None


def _map(s: Side, other: Side) -> dict:
    features = []
    for code, r in s.sectors.iterrows():
        changed = code not in other.sectors.index or not same_shape(
            r["geometry"], other.sectors.at[code, "geometry"]
        )
        props = {"code": code, "name_zh": r["name_zh"], "grid2": r["grid2"], "changed": changed}
        features.append(feature(r["geometry"], props, code))
    return collection(features, name=s.label)


def compare(conn: Connection, plan_id: int, with_: str, actor: str) -> dict:
    """Plan `plan_id` (after) against `with_` (before): "current" or another plan's id."""
    if with_ == CURRENT:
        other = None
    elif with_.isdigit():
        other = int(with_)
    else:
        raise InvalidInput(f"with: `current` or a plan id, got {with_!r}")
    after = side(conn, plan_id, actor)
    before = side(conn, other, actor)
    residents = _series(
        conn, "SELECT household_id, count(*) FROM residents GROUP BY household_id"
    ).astype(int)
    households = _flows(before.households, after.households)
    incidents = _flows(before.incidents, after.incidents)
    moved_residents = int(residents.reindex(households.pop("ids")).fillna(0).sum())
    incidents.pop("ids")
    workers = _flows(before.workers, after.workers)
    return {
        "plan": plan_id,
        "with": with_,
        "before": {"label": before.label, "plan": before.plan, "sectors": _map(before, after)},
        "after": {"label": after.label, "plan": after.plan, "sectors": _map(after, before)},
        "rows": _rows(before, after, residents),
        "moved": {
            "households": households,
            "residents": {"total": moved_residents},
            "incidents": incidents,
            "workers": {
                "total": workers["total"],
                "moves": [
                    {"id": w, "from": before.workers.get(w), "to": after.workers.get(w)}
                    for w in workers.pop("ids")
                ],
            },
        },
    }
