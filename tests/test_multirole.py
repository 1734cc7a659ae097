"""A person with several roles gets what each of them grants — not only the first role's."""

from __future__ import annotations

from sqlalchemy import text

from geo.access.privacy import Exposure, exposure
from geo.access.roles import Principal, Role, incident_visibility
from geo.cases.flow import moves_for, ownership


def _count(engine, where: str, params: dict) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(f"SELECT count(*) FROM incidents i WHERE {where}"), params
        ).scalar_one()


def test_a_patrol_who_is_also_admin_acts_on_every_case(seeded_engine):
    person = Principal(None, "li", Role.PATROL, other_roles=(Role.ADMIN,), user_id=901)
    where, params = ownership(person)
    assert _count(seeded_engine, where, params) == _count(seeded_engine, "TRUE", {}) > 0


def test_a_supervisor_who_also_patrols_sees_the_area_and_every_case_not_sensitive(seeded_engine):
    with seeded_engine.connect() as conn:
        community = conn.execute(
            text("SELECT code FROM units WHERE level = 'community' ORDER BY code LIMIT 1")
        ).scalar_one()
    supervisor = Principal(None, "wang", Role.SUPERVISOR, (community,), user_id=902)
    both = Principal(
        None, "wang", Role.SUPERVISOR, (community,), other_roles=(Role.PATROL,), user_id=902
    )
    in_area = _count(seeded_engine, "i.sector_code LIKE :c || '%'", {"c": community})
    expected = _count(
        seeded_engine,
        "i.sector_code LIKE :c || '%' OR i.category NOT IN "
        "(SELECT code FROM incident_categories WHERE sensitive)",
        {"c": community},
    )
    assert _count(seeded_engine, *incident_visibility(supervisor)) == in_area
    assert _count(seeded_engine, *incident_visibility(both)) == expected > in_area


def test_an_official_who_also_patrols_gets_masked_personal_data_not_none():
    assert exposure(Principal(None, "zhao", Role.OFFICIAL)) is Exposure.WITHHELD
    both = Principal(None, "zhao", Role.OFFICIAL, other_roles=(Role.PATROL,))
    assert exposure(both) is Exposure.MASKED


def test_a_patrol_who_is_also_a_grid_worker_may_accept_a_dispatched_case():
    patrol = Principal(None, "sun", Role.PATROL, user_id=903)
    both = Principal(None, "sun", Role.PATROL, other_roles=(Role.GRID_WORKER,), user_id=903)
    assert "in_progress" not in moves_for(patrol, "dispatched", own=True)
    assert "in_progress" in moves_for(both, "dispatched", own=True)
