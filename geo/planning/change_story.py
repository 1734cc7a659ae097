"""What a committed boundary change really did, for its page: the units it wrote (names
beside codes), what moved from which sector to which (households, businesses, resources,
incidents, courtyards), and the old and new sectors for the map.

    >>> story = change_story(conn, 12)                       # doctest: +SKIP
    >>> story["moved"]["households"], story["flows"][0]["from_name_zh"]
    (31, '官北沟社区第一片区')
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.privacy import Exposure
from geo.planning.asof import change

#: the kinds of what moves, in the order the page lists them
MOVED_KINDS = ("households", "businesses", "resources", "incidents", "courtyards")

#: the latest name of every unit and courtyard code ever written (retired ones too)
NAMES = """
SELECT DISTINCT ON (code) code, name_zh, name_en FROM (
    SELECT code, name_zh, name_en, valid_from FROM units
    UNION ALL SELECT code, name_zh, name_en, valid_from FROM courtyards
) n ORDER BY code, valid_from DESC
"""


def _named(code: str | None, names: dict) -> dict:
    zh, en = names.get(code, (None, None))
    return {"code": code, "name_zh": zh, "name_en": en}


def _flows(summary: dict, names: dict) -> list[dict]:
    """Every (kind, from, to, count) of the change's summary, each end named."""
    out = []
    for kind in MOVED_KINDS:
        for f in (summary.get("flows") or {}).get(kind) or []:
            out.append(
                {
                    "kind": kind,
                    "item": _named(f["code"], names) if f.get("code") else None,
                    "from": _named(f.get("from"), names),
                    "to": _named(f.get("to"), names),
                    "count": int(f.get("count", 1)),
                }
            )
    return out


def change_story(conn: Connection, change_id: int, exposure: Exposure = Exposure.MASKED) -> dict:
    """The change `change_id` as its page tells it: `change` (id, at, kind, reason, actor
    masked unless `exposure` says not), `units` written (code, level, action, names, area),
    `moved` (count per kind), `flows` (what moved from where to where, names beside codes;
    empty for changes written before flows were kept, whose counts remain), `before` and
    `after` (sectors, GeoJSON). NotFound for an unknown id."""
    found = change(conn, change_id, exposure)
    names = {r.code: (r.name_zh, r.name_en) for r in conn.execute(text(NAMES))}
    summary = found.get("summary") or {}
    units = [
        {**u, **_named(u["code"], names), "successor": _named(u.get("successor"), names)}
        for u in summary.get("units") or []
    ]
    moved = {k: int((summary.get("moved") or {}).get(k) or 0) for k in MOVED_KINDS}

    def sectors(collection: dict) -> dict:
        kept = [f for f in collection["features"] if f["properties"]["level"] == "sector"]
        return {**collection, "features": kept}

    return {
        "change": {k: found.get(k) for k in ("id", "at", "actor", "kind", "reason")},
        "units": units,
        "moved": moved,
        "flows": _flows(summary, names),
        "redispatched": int(summary.get("redispatched") or 0),
        "before": sectors(found["before"]),
        "after": sectors(found["after"]),
    }
