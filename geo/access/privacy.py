"""Personal data and its masks: names `张*`, phones `138****1234`, ID numbers
`6209**********1234`, birth dates as the year, actors `patrol:张*`, for everyone but admins,
in every output; officials get no personal data at all (withheld: null).

A field from which an ID number or a phone number can be rebuilt is personal too: the
birth date fills the eight digits a masked ID number hides, so non-admins get the year.
Party members (and the central households named after their homes) are shown to admins
only; everyone else gets party membership as counts per unit.

    >>> mask_name("张三丰"), mask_phone("13812341234"), mask_id_number("620902199001011234")
    ('张**', '138****1234', '6209**********1234')
    >>> mask_actor("grid_worker:郑娟桂"), mask_actor("system")
    ('grid_worker:郑**', 'system')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum

from geo.access.roles import Principal, Role
from geo.core.terms import PartyLevel, ResourceKind

#: resource kinds that are people (their names and phones are personal data)
PERSON_RESOURCES = frozenset(
    {
        ResourceKind.GRID_WORKER,
        ResourceKind.STATIONED_OFFICER,
        ResourceKind.PARTY_MEMBER,
        ResourceKind.COMMITTEE_MEMBER,
    }
)


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(number: str | None) -> str | None:
    if not number:
        return number
    if len(number) < 9:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


#: actors that name no person: the synthetic history (`seed:patrol`)
IMPERSONAL_ACTORS = ("seed",)


def mask_actor(actor: str | None) -> str | None:
    """`role:name` with the name masked (`patrol:张*`); an actor without a name (`system`,
    `seed:patrol`) as it is."""
    if not actor or ":" not in actor:
        return actor
    role, name = actor.split(":", 1)
    if role in IMPERSONAL_ACTORS:
        return actor
    return f"{role}:{mask_name(name)}"


def withhold_actor(actor: str | None) -> str | None:
    """Only the role of `role:name` (officials see who acted by role, never by name)."""
    if not actor or ":" not in actor or actor.split(":", 1)[0] in IMPERSONAL_ACTORS:
        return actor
    return actor.split(":", 1)[0]


def birth_year(value: date | str | None) -> int | None:
    """The year of a birth date: all of it a non-admin may see (the full date plus a masked
    ID number's region and last four digits would rebuild the ID)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return int(value[:4])
    return value.year


#: fields published under another name for non-admins (their mask says what they hold)
PUBLISHED_AS = {"residents": {"birth_date": "birth_year"}}

#: which fields of which record kind are personal, and how each is masked (`events` are a
#: case's history, `boundary_changes` the boundary change log)
PERSONAL_FIELDS = {
    "residents": {
        "name": mask_name,
        "phone": mask_phone,
        "id_number": mask_id_number,
        "birth_date": birth_year,
    },
    "incidents": {"reporter_contact": mask_phone},
    "resources": {"name_zh": mask_name, "phone": mask_phone},
    "events": {"actor": mask_actor},
    "boundary_changes": {"actor": mask_actor},
    "unit_versions": {"changed_by": mask_actor},
}


class Exposure(StrEnum):
    """How much of a personal field a caller gets."""

    UNMASKED = "unmasked"  # admins
    MASKED = "masked"  # planner, patrol, grid worker (and other staff roles)
    WITHHELD = "withheld"  # officials: no personal data at all


def exposure(principal: Principal) -> Exposure:
    """The caller's exposure to personal data: admins unmasked, officials nothing, the
    other roles masked."""
    if principal.sees_personal_data:
        return Exposure.UNMASKED
    if principal.only(Role.OFFICIAL):
        return Exposure.WITHHELD
    return Exposure.MASKED


def _withheld(mask):
    return withhold_actor if mask is mask_actor else (lambda value: None)


def mask_record(
    kind: str, record: Mapping, level: Exposure = Exposure.MASKED, own: str | None = None
) -> dict:
    """A copy of `record` as a non-admin sees it: personal fields masked (or withheld, for
    officials), birth dates as years (resources: people only). An actor equal to `own`
    (the caller's own `role:name`) is left as it is: nobody learns anything from their
    own name."""
    out = dict(record)
    if level == Exposure.UNMASKED:
        return out
    fields = PERSONAL_FIELDS.get(kind, {})
    if kind == "resources" and out.get("kind") not in PERSON_RESOURCES:
        fields = {}
    for name, mask in fields.items():
        if name not in out or (mask is mask_actor and own and out[name] == own):
            continue
        hide = _withheld(mask) if level == Exposure.WITHHELD else mask
        value = hide(out[name])
        if name in PUBLISHED_AS.get(kind, {}):
            published = PUBLISHED_AS[kind][name]
            out = {(published if k == name else k): v for k, v in out.items()}
            name = published
        out[name] = value
    return out


#: resource kinds and party subtypes that place a party member at their home
MEMBER_RESOURCES = frozenset({ResourceKind.PARTY_MEMBER})
MEMBER_SUBTYPES = frozenset({PartyLevel.CENTRAL_HOUSEHOLD})


def sql_no_member_points(alias: str = "t") -> str:
    """SQL condition keeping the resources that are not party members' homes (for
    non-admins): neither a member nor a central household."""
    kinds = ", ".join(f"'{k.value}'" for k in sorted(MEMBER_RESOURCES))
    subtypes = ", ".join(f"'{s.value}'" for s in sorted(MEMBER_SUBTYPES))
    return (
        f"NOT ({alias}.kind IN ({kinds}) OR "
        f"({alias}.kind = '{ResourceKind.PARTY_ORG.value}' AND "
        f"coalesce({alias}.subtype, '') IN ({subtypes})))"
    )


#: the same masks in SQL, for outputs built in the database (OGC items); tested equal
SQL_MASKS = {
    mask_name: "CASE WHEN {c} IS NULL OR {c} = '' THEN {c} "
    "ELSE left({c}, 1) || repeat('*', char_length({c}) - 1) END",
    mask_phone: "CASE WHEN {c} IS NULL OR {c} = '' THEN {c} WHEN char_length({c}) < 8 "
    "THEN repeat('*', char_length({c})) ELSE left({c}, 3) || "
    "repeat('*', char_length({c}) - 7) || right({c}, 4) END",
    mask_id_number: "CASE WHEN {c} IS NULL OR {c} = '' THEN {c} WHEN char_length({c}) < 9 "
    "THEN repeat('*', char_length({c})) ELSE left({c}, 4) || "
    "repeat('*', char_length({c}) - 8) || right({c}, 4) END",
    birth_year: "extract(year FROM {c})::int",
    mask_actor: "CASE WHEN {c} IS NULL OR position(':' IN {c}) = 0 "
    f"OR split_part({{c}}, ':', 1) IN ({', '.join(repr(a) for a in IMPERSONAL_ACTORS)}) "
    "THEN {c} "
    "ELSE split_part({c}, ':', 1) || ':' || CASE WHEN substr({c}, position(':' IN {c}) + 1) = '' "
    "THEN '' ELSE left(substr({c}, position(':' IN {c}) + 1), 1) || "
    "repeat('*', char_length(substr({c}, position(':' IN {c}) + 1)) - 1) END END",
}


def sql_masked(kind: str, column: str, alias: str = "t", level: Exposure = Exposure.MASKED) -> str:
    """SQL for `alias.column` of a record kind as non-admins see it (masked if personal;
    NULL if withheld)."""
    mask = PERSONAL_FIELDS.get(kind, {}).get(column)
    ref = f"{alias}.{column}"
    if mask is None or level == Exposure.UNMASKED:
        return ref
    masked = "NULL" if level == Exposure.WITHHELD else SQL_MASKS[mask].format(c=ref)
    if kind == "resources":
        people = ", ".join(f"'{k.value}'" for k in sorted(PERSON_RESOURCES))
        return f"CASE WHEN {alias}.kind IN ({people}) THEN {masked} ELSE {ref} END"
    return masked


def mask_records(
    kind: str, records: Iterable[Mapping], unmasked: bool | Exposure, own: str | None = None
) -> list[dict]:
    """Records as a caller may see them: as they are for admins, masked for everyone else
    (`unmasked` is a bool, or the caller's `exposure`; `own`: the caller's actor)."""
    if unmasked is True or unmasked == Exposure.UNMASKED:
        return [dict(r) for r in records]
    level = Exposure.MASKED if unmasked is False else unmasked
    return [mask_record(kind, r, level, own) for r in records]
