"""Access control: roles, the one role → permission table, and API tokens.

Tokens are random strings shown once; only their SHA-256 is stored. A principal is what
a valid token stands for: a name, a role, and for a grid worker the unit codes they serve
(their own grids: the households and restricted incidents they may see).

    >>> token = create_token(conn, role=Role.PLANNER, name="王规划")   # doctest: +SKIP
    >>> authenticate(conn, token).role                                 # doctest: +SKIP
    <Role.PLANNER: 'planner'>
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput, NotFound

TOKEN_PREFIX = "gm_"


class Role(StrEnum):
    ADMIN = "admin"
    PLANNER = "planner"
    PATROL = "patrol"
    GRID_WORKER = "grid_worker"
    OFFICIAL = "official"
    SUPERVISOR = "supervisor"  # the command centre (综治中心): dispatch, verify, approve
    CITY = "city"  # 市级: a city official reading and comparing every sub-district


class Permission(StrEnum):
    READ_UNITS = "units:read"  # boundaries, units and their aggregate counts
    VIEW_MAPS = "maps:view"  # incident, hotspot and coverage map pages
    READ_COVERAGE = "coverage:read"  # coverage and statistics per unit
    READ_PLACES = "places:read"  # businesses and governance resources (people masked)
    READ_INCIDENTS = "incidents:read"  # individual incidents
    REPORT_INCIDENTS = "incidents:report"
    UPDATE_INCIDENTS = "incidents:update"  # transitions in the case loop
    READ_HOUSEHOLDS = "households:read"  # households and residents (grid workers: own grids)
    UNMASKED_PERSONAL_DATA = "personal:unmasked"
    SENSITIVE_INCIDENTS = "incidents:sensitive"  # key-population cases anywhere
    EDIT_BOUNDARIES = "boundaries:edit"
    IMPORT_DATA = "imports:write"  # households, residents, businesses, resources, incidents
    READ_AUDIT = "audit:read"
    MANAGE_TOKENS = "tokens:manage"
    MANAGE_USERS = "users:manage"  # create, disable and reset people's accounts
    CONFIGURE = "settings:write"  # category time limits and other reference data
    # grid workers, stationed officers, party branches, co-building units (`geo.people.staff`)
    MANAGE_PEOPLE = "people:manage"
    SUPERVISE_CASES = "incidents:supervise"  # dispatch, assign one owner, decide requests


_ALL = frozenset(Permission)
_PATROL = frozenset(
    {
        Permission.READ_UNITS,
        Permission.VIEW_MAPS,
        Permission.READ_PLACES,
        Permission.READ_INCIDENTS,
        Permission.REPORT_INCIDENTS,
        Permission.UPDATE_INCIDENTS,
    }
)

#: the one table of who may do what
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.PLANNER: frozenset(
        {
            Permission.READ_UNITS,
            Permission.VIEW_MAPS,
            Permission.READ_COVERAGE,
            Permission.READ_PLACES,
            Permission.EDIT_BOUNDARIES,
        }
    ),
    Role.PATROL: _PATROL,
    Role.GRID_WORKER: _PATROL | {Permission.READ_HOUSEHOLDS, Permission.READ_COVERAGE},
    Role.OFFICIAL: frozenset(
        {
            Permission.READ_UNITS,
            Permission.VIEW_MAPS,
            Permission.READ_COVERAGE,
            Permission.READ_PLACES,
        }
    ),
    # every case of their area (scope codes; none: the whole sub-district), personal data
    # masked; dispatch, reassign, verify, send back, reject, approve extensions and returns
    Role.SUPERVISOR: _PATROL
    | {
        Permission.READ_COVERAGE,
        Permission.SENSITIVE_INCIDENTS,
        Permission.SUPERVISE_CASES,
    },
    # every sub-district's boundaries, maps, coverage and evaluation, side by side (read only;
    # cases and personal data stay with each sub-district)
    Role.CITY: frozenset(
        {
            Permission.READ_UNITS,
            Permission.VIEW_MAPS,
            Permission.READ_COVERAGE,
            Permission.READ_PLACES,
        }
    ),
}

_ROLE_VALUES = frozenset(r.value for r in Role)

ROLE_LABELS = {
    Role.ADMIN: ("管理员", "administrator"),
    Role.PLANNER: ("规划人员", "planner"),
    Role.PATROL: ("巡查人员", "patrol"),
    Role.GRID_WORKER: ("网格员", "grid worker"),
    Role.OFFICIAL: ("领导干部", "official"),
    Role.SUPERVISOR: ("督办员", "supervisor"),
    Role.CITY: ("市级干部", "city official"),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token, or a person signed in (a session or their own token).

    `role` is the first of their roles (what most checks ask); `roles` are all of them.
    `id` is the stable identity ownership follows: `user:7` for a person (through any of
    their sessions or tokens), `token:3` for a program's token that belongs to nobody."""

    token_id: int | None
    name: str
    role: Role
    scope_codes: tuple[str, ...] = field(default_factory=tuple)
    other_roles: tuple[Role, ...] = field(default_factory=tuple)
    user_id: int | None = None
    must_change_password: bool = False
    session_id: int | None = None
    #: a grid worker's own resource id (the owner of the cases assigned to them by name)
    worker_id: str | None = None
    #: the sub-district the token or account belongs to (0017t); a city official's home one
    subdistrict: str | None = None

    @property
    def roles(self) -> tuple[Role, ...]:
        return (self.role,) + tuple(r for r in self.other_roles if r != self.role)

    @property
    def id(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"token:{self.token_id}"

    def can(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[role] for role in self.roles)

    def has(self, *roles: Role) -> bool:
        """Does any of the caller's roles appear in `roles`? Every role check asks this, so a
        person with several roles gets what each of them grants, not only the first's."""
        return any(role in roles for role in self.roles)

    def only(self, *roles: Role) -> bool:
        """Are all of the caller's roles among `roles`? (A restriction applies only then.)"""
        return all(role in roles for role in self.roles)

    @property
    def sees_personal_data(self) -> bool:
        """Unmasked names, phones and ID numbers: admins only."""
        return self.can(Permission.UNMASKED_PERSONAL_DATA)

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _worker_scope(conn: Connection, worker_id: str) -> tuple[str, ...]:
    row = conn.execute(
        text(
            "SELECT serves_code FROM resources WHERE id = :id AND kind = 'grid_worker' "
            "AND retired_at IS NULL"
        ),
        {"id": worker_id},
    ).first()
    if row is None or not row.serves_code:
        raise InvalidInput(
            f"no active grid worker with id {worker_id!r} serving a unit; see resources"
        )
    return (row.serves_code,)


def create_token(
    conn: Connection,
    role: Role | str,
    name: str,
    scope: list[str] | None = None,
    worker_id: str | None = None,
) -> str:
    """A new token for `role`, returned once. A grid worker's token needs the unit codes
    they serve: `scope` or the `worker_id` of a grid worker resource."""
    try:
        role = Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}; one of: {choices}") from None
    if not name.strip():
        raise InvalidInput("a token needs a name (who or what uses it)")
    codes = tuple(scope or ()) + (_worker_scope(conn, worker_id) if worker_id else ())
    if role == Role.GRID_WORKER and not codes:
        raise InvalidInput("a grid_worker token needs --grid CODE or --worker ID (their grids)")
    unknown = [
        c
        for c in codes
        if not conn.execute(
            text("SELECT 1 FROM units WHERE code = :c AND valid_to IS NULL"), {"c": c}
        ).first()
    ]
    if unknown:
        raise InvalidInput(f"unknown unit code(s): {', '.join(unknown)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO api_tokens (name, role, token_hash, scope_codes, worker_id) "
            "VALUES (:name, :role, :hash, :scope, :worker)"
        ),
        {
            "name": name.strip(),
            "role": role.value,
            "hash": hash_token(token),
            "scope": list(codes),
            "worker": worker_id,
        },
    )
    return token


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The principal of a valid, unrevoked, unexpired token (of an enabled user, if it
    belongs to one), or None. Notes the use (once a minute)."""
    row = conn.execute(
        text(
            "SELECT t.id, t.name, t.role, t.roles, t.scope_codes, t.user_id, "
            "COALESCE(u.worker_id, t.worker_id) AS worker_id, "
            "u.display_name, u.scope_codes AS user_scope, "
            "coalesce(u.subdistrict, t.subdistrict) AS subdistrict, "
            "t.last_used_at > now() - interval '1 minute' AS recent "
            "FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = :h AND t.revoked_at IS NULL "
            "AND (t.expires_at IS NULL OR t.expires_at > now()) "
            "AND (t.user_id IS NULL OR u.disabled_at IS NULL)"
        ),
        {"h": hash_token(token)},
    ).first()
    if row is None:
        return None
    if not row.recent:
        conn.execute(
            text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id"), {"id": row.id}
        )
    roles = [Role(r) for r in (row.roles or [row.role]) if r in _ROLE_VALUES]
    if not roles:
        return None
    scope = row.user_scope if row.user_id is not None else row.scope_codes
    return Principal(
        row.id,
        row.display_name if row.user_id is not None else row.name,
        roles[0],
        tuple(scope or ()),
        other_roles=tuple(roles[1:]),
        user_id=row.user_id,
        worker_id=row.worker_id,
        subdistrict=row.subdistrict,
    )


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: str
    scope_codes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(
        text(
            "SELECT id, name, role, scope_codes, created_at, last_used_at, revoked_at "
            "FROM api_tokens ORDER BY id"
        )
    ).all()
    return [
        TokenInfo(
            r.id,
            r.name,
            r.role,
            list(r.scope_codes or []),
            r.created_at,
            r.last_used_at,
            r.revoked_at,
        )
        for r in rows
    ]


def revoke_token(conn: Connection, token_id: int) -> None:
    done = conn.execute(
        text("UPDATE api_tokens SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL"),
        {"id": token_id},
    )
    if done.rowcount == 0:
        raise NotFound(f"no active token with id {token_id}; `gridmap token list` shows them")


def scope_filter(principal: Principal, column: str) -> tuple[str, dict]:
    """SQL (and parameters) restricting `column`, a unit code, to the principal's grids;
    codes are hierarchical, so a grid's code prefixes everything inside it."""
    if not principal.scope_codes:
        return "FALSE", {}
    clauses = " OR ".join(
        f"{column} LIKE :scope{i} || '%'" for i in range(len(principal.scope_codes))
    )
    return f"({clauses})", {f"scope{i}": c for i, c in enumerate(principal.scope_codes)}


def own_cases(principal: Principal, alias: str = "i") -> tuple[str, dict]:
    """SQL (and parameters) over incidents `alias`: the cases of a grid worker's grids —
    those lying in them, and those dispatched to a worker serving them (a sector with no
    worker of its own falls back to its level-2 grid's workers)."""
    here, params = scope_filter(principal, f"{alias}.sector_code")
    theirs, _ = scope_filter(principal, "r.serves_code")
    # the workers serving those grids are found once per statement (an InitPlan), not once
    # per incident as an EXISTS over `assigned_to` would: the case lists at 1M incidents
    assigned = (
        f"(coalesce({alias}.assigned_to, '{{}}') && "
        f"ARRAY(SELECT r.id FROM resources r WHERE {theirs}))"
    )
    return f"({here} OR {assigned})", params


def incident_visibility(principal: Principal, alias: str = "i") -> tuple[str, dict]:
    """SQL (and parameters) over incidents `alias` that a principal may see: every case
    for admins; sensitive categories (key population management) otherwise only for the
    grid workers whose cases they are (`own_cases`); nobody else sees them."""
    others = [role for role in principal.roles if role != Role.SUPERVISOR]
    if any(Permission.SENSITIVE_INCIDENTS in ROLE_PERMISSIONS[role] for role in others):
        return "TRUE", {}
    clauses, params = [], {}
    if principal.has(Role.SUPERVISOR):  # a supervisor's view stops at their area's edge
        area, params = supervised_area(principal, alias)
        clauses.append(area)
    if others:
        own, own_params = own_cases(principal, alias)
        sensitive = "SELECT code FROM incident_categories WHERE sensitive"
        clauses.append(f"({alias}.category NOT IN ({sensitive}) OR {own})")
        params.update(own_params)
    return any_of(clauses), params


def any_of(clauses: list[str]) -> str:
    """SQL that holds where any of `clauses` holds (`FALSE` for none, `TRUE` if one is)."""
    if "TRUE" in clauses:
        return "TRUE"
    return "(" + " OR ".join(clauses) + ")" if clauses else "FALSE"


def supervised_area(principal: Principal, alias: str = "i") -> tuple[str, dict]:
    """SQL (and parameters) over incidents `alias`: a supervisor's area, every case of the
    units their token names (a community, a grid), or of the whole sub-district."""
    if not principal.scope_codes:
        return "TRUE", {}
    return scope_filter(principal, f"{alias}.sector_code")
