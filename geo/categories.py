"""The incident categories named in the case, with their default time limits.

This is the one source of the defaults: `gridmap migrate` writes any missing category to the
`incident_categories` table, where an admin may change the limits; the table is what runs.

Time limits follow local practice (assumptions where the case is silent): urgent safety
cases are dispatched within 30 minutes and verified within 2 hours; ordinary cases are
dispatched within 2 hours and closed within 1 working day; disputes, which need mediation,
within 3 working days. Working days skip Saturdays and Sundays (public holidays are not
modelled).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    urgent: bool
    sensitive: bool
    dispatch_minutes: int
    #: the limit to verified-and-closed: minutes on the clock, or whole working days
    close_minutes: int | None
    close_working_days: int | None


CATEGORIES: tuple[Category, ...] = (
    Category("public_security", "社会治安", "public security", True, False, 30, 120, None),
    Category("dispute", "矛盾纠纷", "disputes and conflicts", False, False, 120, None, 3),
    Category(
        "key_population", "重点人群管理", "key population management", False, True, 120, None, 1
    ),
    Category("work_safety", "安全生产", "work safety", True, False, 30, 120, None),
    Category("safety_hazard", "安全隐患", "safety hazards", True, False, 30, 120, None),
    Category("environment", "环境保护", "environmental protection", False, False, 120, None, 2),
    Category("sanitation", "环境卫生", "sanitation", False, False, 120, None, 1),
    Category("public_service", "为民服务", "public service requests", False, False, 120, None, 1),
    Category("epidemic", "疫情防控", "epidemic control", True, False, 30, None, 1),
    Category("traffic", "交通劝导", "traffic persuasion", True, False, 30, 120, None),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}
