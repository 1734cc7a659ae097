"""Stable codes: existing units keep their codes; a new unit gets the next free sequence
number under its parent, never one used before (retired codes stay retired).

Codes are hierarchical as `geo/grid/district.py` builds them: street prefix (`620902003`) +
3 digits for a community, + 2 for a level-2 grid, + 2 for a sector. A unit whose parent
changes (a sector reassigned to another level-2 grid) therefore gets a new code under its
new parent; the old code is retired and names the new one as its successor.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput
from geo.planning.layer import Plan

DIGITS = {"community": 3, "grid2": 2, "sector": 2}


def seq_of(code: str, level: str) -> int:
    return int(code[-DIGITS[level] :])


def _used(conn: Connection) -> dict[tuple[str, str], int]:
    """(level, parent code) → the highest sequence number ever used there."""
    rows = conn.execute(
        text("SELECT level, parent_code, max(seq) FROM units GROUP BY level, parent_code")
    ).all()
    return {(level, parent): seq for level, parent, seq in rows if parent}


def _short(name: str, suffix: str) -> str:
    return re.sub(f"{suffix}$", "", name).strip()


def resolve_codes(conn: Connection, plan: Plan, district_code: str) -> None:
    """Fill the `code` of every unit of `plan` (top-down) and generate missing names, in
    place. A unit keeps its code when the code still sits under its parent's code."""
    used = _used(conn)

    def take(level: str, parent: str) -> str:
        seq = used.get((level, parent), 0) + 1
        if seq >= 10 ** DIGITS[level]:
            raise InvalidInput(f"no free {level} code left under {parent}")
        used[(level, parent)] = seq
        return f"{parent}{seq:0{DIGITS[level]}d}"

    communities, grid2s, sectors = plan.communities, plan.grid2s, plan.sectors
    for key in communities.index:
        if not communities.at[key, "code"]:
            communities.at[key, "code"] = take("community", district_code)
    for key in grid2s.index:
        parent = communities.at[grid2s.at[key, "community"], "code"]
        code = grid2s.at[key, "code"]
        if not code or code[: -DIGITS["grid2"]] != parent:
            grid2s.at[key, "code"] = take("grid2", parent)
            code = None
        if not code and not grid2s.at[key, "name_zh"]:
            c = grid2s.at[key, "community"]
            short_zh = _short(communities.at[c, "name_zh"], "社区")
            short_en = _short(communities.at[c, "name_en"], "Community")
            seq = seq_of(grid2s.at[key, "code"], "grid2")
            grid2s.at[key, "name_zh"] = f"{short_zh}第{seq}网格"
            grid2s.at[key, "name_en"] = f"{short_en} Grid {seq}"
    for key in sectors.index:
        grid = sectors.at[key, "grid2"]
        parent = grid2s.at[grid, "code"]
        code = sectors.at[key, "code"]
        if not code or code[: -DIGITS["sector"]] != parent:
            sectors.at[key, "code"] = take("sector", parent)
            code = None
        if not code and not sectors.at[key, "name_zh"]:
            c = grid2s.at[grid, "community"]
            short_zh = _short(communities.at[c, "name_zh"], "社区")
            short_en = _short(communities.at[c, "name_en"], "Community")
            g, s = seq_of(parent, "grid2"), seq_of(sectors.at[key, "code"], "sector")
            sectors.at[key, "name_zh"] = f"{short_zh}{g}-{s}片区"
            sectors.at[key, "name_en"] = f"{short_en} Sector {g}-{s}"
