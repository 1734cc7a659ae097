"""Personal data and its masks: names `张*`, phones `138****1234`, ID numbers
`6209**********1234`, for everyone but admins, in every output.

    >>> mask_name("张三丰"), mask_phone("13812341234"), mask_id_number("620902199001011234")
    ('张**', '138****1234', '6209**********1234')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from geo.terms import ResourceKind

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


#: which fields of which record kind are personal, and how each is masked
PERSONAL_FIELDS = {
    "residents": {"name": mask_name, "phone": mask_phone, "id_number": mask_id_number},
    "incidents": {"reporter_contact": mask_phone},
    "resources": {"name_zh": mask_name, "phone": mask_phone},
}


def mask_record(kind: str, record: Mapping) -> dict:
    """A copy of `record` with its personal fields masked (resources: people only)."""
    out = dict(record)
    fields = PERSONAL_FIELDS.get(kind, {})
    if kind == "resources" and out.get("kind") not in PERSON_RESOURCES:
        fields = {}
    for name, mask in fields.items():
        if name in out:
            out[name] = mask(out[name])
    return out


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
}


def sql_masked(kind: str, column: str, alias: str = "t") -> str:
    """SQL for `alias.column` of a record kind as non-admins see it (masked if personal)."""
    mask = PERSONAL_FIELDS.get(kind, {}).get(column)
    ref = f"{alias}.{column}"
    if mask is None:
        return ref
    masked = SQL_MASKS[mask].format(c=ref)
    if kind == "resources":
        people = ", ".join(f"'{k.value}'" for k in sorted(PERSON_RESOURCES))
        return f"CASE WHEN {alias}.kind IN ({people}) THEN {masked} ELSE {ref} END"
    return masked


def mask_records(kind: str, records: Iterable[Mapping], unmasked: bool) -> list[dict]:
    """Records as a caller may see them: as they are for admins, masked for everyone else."""
    if unmasked:
        return [dict(r) for r in records]
    return [mask_record(kind, r) for r in records]
