"""The district's people and partner organisations: grid workers, stationed officers, party
branches and co-building units — list, add, edit, assign to a sector or grid, and retire.

They are rows of `resources`. Nobody is deleted: retiring sets `retired_at`, which takes
the row out of the active lists, dispatch (`geo.cases.dispatch`), coverage counts and new tokens,
while the cases, events and audit entries that name it still resolve. A change to a grid
worker's sector (assign, retire) re-dispatches the open cases whose sector team it changed,
each with a `redispatch` event saying why. Every change is audited (`geo.access.audit`), without
names or phone numbers (personal data).

    >>> person = add_person(conn, admin, "grid_worker", {"name_zh": "王芳",        # doctest: +SKIP
    ...                     "serves_code": "6209020030010101"})
    >>> retire_person(conn, admin, person["id"])["retired_at"] is not None      # doctest: +SKIP
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access import audit
from geo.access.roles import Principal
from geo.cases.dispatch import SECTOR_TEAMS, redispatch_moved, snapshot_teams
from geo.core.errors import Conflict, InvalidInput, NotFound
from geo.core.terms import BranchType, Level, PartyLevel, ResourceKind


@dataclass(frozen=True)
class StaffKind:
    """One kind the admin screens manage: which `resources` rows it is, the levels of unit
    it may be assigned to, the prefix of the ids it gets, and whether it is a person."""

    key: str
    kind: ResourceKind
    subtype: str | None
    serves: tuple[Level, ...]
    id_prefix: str
    id_digits: int
    person: bool


STAFF_KINDS: dict[str, StaffKind] = {
    k.key: k
    for k in (
        StaffKind(
            "grid_worker",
            ResourceKind.GRID_WORKER,
            None,
            (Level.SECTOR, Level.GRID2),
            "W",
            3,
            True,
        ),
        StaffKind(
            "stationed_officer",
            ResourceKind.STATIONED_OFFICER,
            None,
            (Level.GRID2, Level.SECTOR, Level.COMMUNITY),
            "O",
            2,
            True,
        ),
        StaffKind(
            "party_branch",
            ResourceKind.PARTY_ORG,
            PartyLevel.GRID_BRANCH,
            (Level.SECTOR, Level.GRID2, Level.COMMUNITY),
            "PB",
            2,
            False,
        ),
        StaffKind(
            "cobuilding_unit",
            ResourceKind.COBUILDING_UNIT,
            None,
            (Level.SECTOR, Level.GRID2, Level.COMMUNITY),
            "C",
            2,
            False,
        ),
    )
}

#: (中文, English) of each managed kind, for pages and messages
STAFF_LABELS: dict[str, tuple[str, str]] = {
    "grid_worker": ("网格员", "grid workers"),
    "stationed_officer": ("驻点政法干警", "stationed officers"),
    "party_branch": ("网格党支部", "party branches"),
    "cobuilding_unit": ("共驻共建单位", "co-building units"),
}

#: the fields `edit_person` may change (the unit it serves goes through `assign_person`)
EDITABLE = ("name_zh", "name_en", "phone", "branch_type")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_PHONE = re.compile(r"^[0-9+\- ]{3,20}$")
_LIMITS = {"name_zh": 120, "name_en": 160}
_SELECT = """
    SELECT r.id, r.kind AS resource_kind, r.subtype, r.branch_type, r.name_zh, r.name_en,
           r.phone, r.serves_code, u.level AS serves_level, u.name_zh AS serves_name_zh,
           u.name_en AS serves_name_en, r.sector_code, r.retired_at
    FROM resources r LEFT JOIN units u ON u.code = r.serves_code AND u.valid_to IS NULL
"""


def staff_kind(key: str) -> StaffKind:
    """The managed kind `key`, or InvalidInput naming the field `kind` and the choices."""
    try:
        return STAFF_KINDS[key]
    except KeyError:
        raise InvalidInput(
            f"unknown kind {key!r}; one of: {', '.join(STAFF_KINDS)}", field="kind"
        ) from None


def _kind_sql(kind: StaffKind, n: int = 0) -> tuple[str, dict]:
    """SQL over resources `r` selecting `kind`, with parameters suffixed by `n`."""
    if kind.subtype is None:
        return f"r.kind = :kind{n}", {f"kind{n}": kind.kind.value}
    return f"(r.kind = :kind{n} AND r.subtype = :subtype{n})", {
        f"kind{n}": kind.kind.value,
        f"subtype{n}": str(kind.subtype),
    }


def _key_of(row: Mapping) -> str | None:
    for kind in STAFF_KINDS.values():
        if row["resource_kind"] == kind.kind.value and (
            kind.subtype is None or row["subtype"] == str(kind.subtype)
        ):
            return kind.key
    return None


def _shape(row: Mapping) -> dict:
    out = dict(row)
    out["kind"] = _key_of(row)
    out["retired"] = row["retired_at"] is not None
    return out


def people(
    conn: Connection,
    kind: str | None = None,
    retired: bool = False,
    reader: Principal | None = None,
) -> list[dict]:
    """The managed people and organisations, by id: active ones, or with `retired` the
    retired ones; of one `kind` (a key of `STAFF_KINDS`) or all four. Each row has the unit
    it serves with that unit's names (None when it serves none). Names and phones are not
    masked (the screens are the admin's): a `reader`'s read of people is audited."""
    kinds = [staff_kind(kind)] if kind else list(STAFF_KINDS.values())
    clauses, params = [], {}
    for i, k in enumerate(kinds):
        clause, bound = _kind_sql(k, i)
        clauses.append(clause)
        params.update(bound)
    state = "r.retired_at IS NOT NULL" if retired else "r.retired_at IS NULL"
    rows = conn.execute(
        text(f"{_SELECT} WHERE ({' OR '.join(clauses)}) AND {state} ORDER BY r.id"), params
    ).mappings()
    found = [_shape(r) for r in rows]
    _audit_read(conn, reader, found)
    return found


def _audit_read(conn: Connection, reader: Principal | None, rows: list[dict]) -> None:
    exposed = [r["id"] for r in rows if STAFF_KINDS[r["kind"]].person]
    if reader is not None and exposed:
        audit.record(
            conn,
            reader,
            "read_personal_data",
            target="resources",
            detail={"ids": exposed, "fields": ["name_zh", "phone"]},
        )


def person(conn: Connection, person_id: str, reader: Principal | None = None) -> dict:
    """One managed person or organisation by id, retired or not; NotFound otherwise."""
    row = conn.execute(text(f"{_SELECT} WHERE r.id = :id"), {"id": person_id}).mappings().first()
    if row is None or _key_of(row) is None:
        raise NotFound(
            f"no grid worker, stationed officer, party branch or co-building unit with id "
            f"{person_id!r}; GET /api/admin/people lists them"
        )
    found = _shape(row)
    _audit_read(conn, reader, [found])
    return found


def check_serves(conn: Connection, kind: StaffKind, code: str | None) -> str | None:
    """`code` if it is a current unit of a level `kind` may serve; InvalidInput naming the
    field `serves_code` for an unknown or retired unit or a level that does not fit."""
    if code is None or not str(code).strip():
        return None
    code = str(code).strip()
    unit = conn.execute(
        text(
            "SELECT code, level, valid_to, successor_code FROM units WHERE code = :code "
            "ORDER BY valid_to IS NULL DESC, version DESC LIMIT 1"
        ),
        {"code": code},
    ).first()
    if unit is None:
        raise InvalidInput(f"no sector or grid with code {code!r}", field="serves_code")
    if unit.valid_to is not None:
        successor = f"; it was merged into {unit.successor_code}" if unit.successor_code else ""
        raise InvalidInput(
            f"{unit.level} {code} is retired (since {unit.valid_to:%Y-%m-%d}){successor}; "
            "assign a current one",
            field="serves_code",
        )
    if unit.level not in kind.serves:
        allowed = ", ".join(level.value for level in kind.serves)
        raise InvalidInput(
            f"a {kind.key} serves a unit of level {allowed}; {code} is a {unit.level}",
            field="serves_code",
        )
    return code


def _clean(kind: StaffKind, values: Mapping, creating: bool) -> dict:
    """The names, phone and branch type of `values`, checked; InvalidInput names the field."""
    out: dict = {}
    for name in ("name_zh", "name_en", "phone", "branch_type"):
        if name not in values:
            continue
        value = values[name]
        value = value.strip() if isinstance(value, str) else value
        out[name] = value or None
    if creating or "name_zh" in out:
        if not out.get("name_zh"):
            raise InvalidInput("a name (name_zh) is required and cannot be blank", field="name_zh")
    for name, limit in _LIMITS.items():
        if out.get(name) and len(out[name]) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    if out.get("phone") and not _PHONE.match(out["phone"]):
        raise InvalidInput("phone: digits, spaces, + and - only (3 to 20)", field="phone")
    if kind.key == "party_branch":
        if creating or "branch_type" in out:
            choices = [b.value for b in BranchType]
            if out.get("branch_type") not in choices:
                raise InvalidInput(
                    f"a party branch needs branch_type, one of: {', '.join(choices)}",
                    field="branch_type",
                )
    elif out.get("branch_type"):
        raise InvalidInput("only a party branch has a branch_type", field="branch_type")
    return out


def _new_id(conn: Connection, kind: StaffKind) -> str:
    pattern = f"^{kind.id_prefix}[0-9]+$"
    last = conn.execute(
        text(
            "SELECT max(CAST(substring(id FROM :digits) AS integer)) FROM resources "
            "WHERE id ~ :pattern"
        ),
        {"digits": f"^{kind.id_prefix}([0-9]+)$", "pattern": pattern},
    ).scalar()
    return f"{kind.id_prefix}{(last or 0) + 1:0{kind.id_digits}d}"


def _changes_team(kind: StaffKind) -> bool:
    return kind.kind == ResourceKind.GRID_WORKER


def _redispatch(conn: Connection, principal: Principal | str, why: str) -> int:
    """Re-dispatch the open cases whose sector team the change made (after `snapshot_teams`)."""
    actor = principal.actor if isinstance(principal, Principal) else principal
    nothing_moved = (
        "SELECT CAST(NULL AS varchar) AS id, CAST(NULL AS varchar) AS from_sector WHERE false"
    )
    return redispatch_moved(conn, nothing_moved, datetime.now(UTC), actor, why)


def add_person(
    conn: Connection, principal: Principal | str, kind_key: str, values: Mapping
) -> dict:
    """Add a grid worker, stationed officer, party branch or co-building unit; returns it.

    `values`: `name_zh` (required), `name_en`, `phone`, `branch_type` (party branches:
    agency, courtyard or nonpublic), `serves_code` (a current unit of a level the kind may
    serve), `id` (default: the kind's prefix and the next number, e.g. W104). A taken id,
    a blank name, an unknown or retired unit: InvalidInput naming the field, nothing written.
    """
    kind = staff_kind(kind_key)
    fields = _clean(kind, values, creating=True)
    serves = check_serves(conn, kind, values.get("serves_code"))
    person_id = (values.get("id") or "").strip() or _new_id(conn, kind)
    if not _ID.match(person_id):
        raise InvalidInput(
            f"id {person_id!r}: letters, digits, _ and - only, up to 40, starting with a "
            "letter or digit",
            field="id",
        )
    taken = conn.execute(
        text("SELECT kind, retired_at FROM resources WHERE id = :id"), {"id": person_id}
    ).first()
    if taken is not None:
        state = " (retired; ids are never reused)" if taken.retired_at else ""
        raise InvalidInput(f"id {person_id!r} is taken by a {taken.kind}{state}", field="id")
    if _changes_team(kind):
        snapshot_teams(conn)
    conn.execute(
        text(
            "INSERT INTO resources (id, kind, subtype, branch_type, name_zh, name_en, phone, "
            "serves_code, synthetic) VALUES (:id, :kind, :subtype, :branch_type, :name_zh, "
            ":name_en, :phone, :serves, false)"
        ),
        {
            "id": person_id,
            "kind": kind.kind.value,
            "subtype": str(kind.subtype) if kind.subtype else None,
            "branch_type": fields.get("branch_type"),
            "name_zh": fields["name_zh"],
            "name_en": fields.get("name_en"),
            "phone": fields.get("phone"),
            "serves": serves,
        },
    )
    redispatched = (
        _redispatch(conn, principal, f"新增网格员 {person_id}")
        if serves and _changes_team(kind)
        else 0
    )
    audit.record(
        conn,
        principal,
        "person_add",
        target=person_id,
        detail={"kind": kind.key, "serves_code": serves, "redispatched": redispatched},
    )
    return person(conn, person_id)


def _active(conn: Connection, person_id: str) -> tuple[dict, StaffKind]:
    current = person(conn, person_id)
    if current["retired"]:
        raise Conflict(
            f"{person_id} was retired on {current['retired_at']:%Y-%m-%d}; a retired record "
            "stays as history and cannot be changed"
        )
    return current, STAFF_KINDS[current["kind"]]


def edit_person(
    conn: Connection, principal: Principal | str, person_id: str, changes: Mapping
) -> dict:
    """Change the names, phone or branch type of an active record; returns it. Unknown
    fields, a blank name, a bad phone: InvalidInput naming the field."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            f"cannot change {', '.join(unknown)} here; editable: {', '.join(EDITABLE)} "
            "(the unit served: POST …/assign)",
            fields=unknown,
        )
    current, kind = _active(conn, person_id)
    fields = _clean(kind, changes, creating=False)
    if not fields:
        return current
    sets = ", ".join(f"{name} = :{name}" for name in fields)
    conn.execute(
        text(f"UPDATE resources SET {sets}, updated_at = now() WHERE id = :id"),
        {**fields, "id": person_id},
    )
    audit.record(
        conn, principal, "person_edit", target=person_id, detail={"fields": sorted(fields)}
    )
    return person(conn, person_id)


def assign_person(
    conn: Connection, principal: Principal | str, person_id: str, serves_code: str | None
) -> dict:
    """Assign an active record to the unit `serves_code` (None: to none); returns it. A
    grid worker's move re-dispatches the open cases of the sectors whose team it changed."""
    current, kind = _active(conn, person_id)
    serves = check_serves(conn, kind, serves_code)
    if serves == current["serves_code"]:
        return current
    if _changes_team(kind):
        snapshot_teams(conn)
    conn.execute(
        text("UPDATE resources SET serves_code = :serves, updated_at = now() WHERE id = :id"),
        {"serves": serves, "id": person_id},
    )
    redispatched = (
        _redispatch(conn, principal, f"网格员 {person_id} 调整服务网格")
        if _changes_team(kind)
        else 0
    )
    audit.record(
        conn,
        principal,
        "person_assign",
        target=person_id,
        detail={
            "from": current["serves_code"],
            "to": serves,
            "redispatched": redispatched,
        },
    )
    return person(conn, person_id)


def retire_person(
    conn: Connection, principal: Principal | str, person_id: str, reason: str | None = None
) -> dict:
    """Retire an active record: it keeps its row (history names it) but leaves the active
    lists, dispatch and coverage; a grid worker's open cases go to the sector's remaining
    team (`geo.cases.dispatch` rule), each with a `redispatch` event. Returns the record."""
    current, kind = _active(conn, person_id)
    if _changes_team(kind):
        snapshot_teams(conn)
    conn.execute(
        text("UPDATE resources SET retired_at = now(), updated_at = now() WHERE id = :id"),
        {"id": person_id},
    )
    redispatched = (
        _redispatch(conn, principal, f"网格员 {person_id} 已退出") if _changes_team(kind) else 0
    )
    if _changes_team(kind):
        conn.execute(
            text(
                "UPDATE api_tokens SET revoked_at = now() "
                "WHERE worker_id = :id AND revoked_at IS NULL"
            ),
            {"id": person_id},
        )
    audit.record(
        conn,
        principal,
        "person_retire",
        target=person_id,
        detail={
            "kind": kind.key,
            "serves_code": current["serves_code"],
            "reason": (reason or "").strip() or None,
            "redispatched": redispatched,
        },
    )
    return person(conn, person_id)


def sector_service(conn: Connection, reader: Principal | None = None) -> list[dict]:
    """Every current sector with who serves it: its own grid workers, the team its cases
    are dispatched to (its workers, else its level-2 grid's: `geo.cases.dispatch`), and the
    officers, party branches and co-building units assigned to it or to its level-2 grid.
    Each person is {id, name_zh, name_en, kind, serves_code}."""
    rows = conn.execute(
        text(
            f"""
            WITH team AS ({SECTOR_TEAMS})
            SELECT s.code, s.name_zh, s.name_en, s.parent_code, g.name_zh AS grid2_name_zh,
                   g.name_en AS grid2_name_en, coalesce(team.workers, '{{}}') AS team
            FROM units s LEFT JOIN team ON team.sector_code = s.code
            LEFT JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL
            WHERE s.valid_to IS NULL AND s.level = 'sector' ORDER BY s.code
            """
        )
    ).mappings()
    sectors = [dict(r) for r in rows]
    serving: dict[str, list[dict]] = {}
    for p in people(conn, reader=reader):
        if p["serves_code"]:
            serving.setdefault(p["serves_code"], []).append(p)
    for s in sectors:
        here = serving.get(s["code"], [])
        above = serving.get(s["parent_code"], [])
        s["grid_workers"] = [p for p in here if p["kind"] == "grid_worker"]
        s["others"] = [p for p in here + above if p["kind"] != "grid_worker"]
        s["team"] = list(s["team"])
        s["fallback"] = bool(s["team"]) and not s["grid_workers"]
    return sectors


def serve_choices(conn: Connection) -> list[dict]:
    """The current communities, level-2 grids and sectors (code, level, names), by code:
    the units a record may be assigned to."""
    rows = conn.execute(
        text(
            "SELECT code, level, name_zh, name_en FROM units WHERE valid_to IS NULL "
            "AND level IN ('community', 'grid2', 'sector') ORDER BY code"
        )
    ).mappings()
    return [dict(r) for r in rows]


def people_screen(conn: Connection, kind_key: str, reader: Principal) -> dict:
    """What the admin's people page shows for one kind: the active and retired records,
    the units they may be assigned to, and every sector with who serves it."""
    kind = staff_kind(kind_key)
    return {
        "active": people(conn, kind.key, reader=reader),
        "retired": people(conn, kind.key, retired=True, reader=reader),
        "units": [u for u in serve_choices(conn) if u["level"] in kind.serves],
        "serves_levels": [level.value for level in kind.serves],
        "sectors": sector_service(conn, reader=reader),
    }
