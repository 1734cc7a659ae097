"""One case intake: a case filed from a file and the same case reported over HTTP end in the
same state with the same history, whether or not anybody serves their grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import text

from geo.imports import ImportOptions, import_file
from tests.conftest import auth
from tests.incident_support import inside, other_sector, report_body, worker_sector

HISTORY = (
    "SELECT kind, from_status, to_status, actor FROM incident_events "
    "WHERE incident_id = :i ORDER BY id"
)
STATE = "SELECT status, assigned_to, dispatched_at IS NOT NULL AS dispatched FROM incidents "


def _empty_grid(engine) -> str:
    """A sector whose level-2 grid nobody serves (its grid workers are removed)."""
    sector = other_sector(engine, worker_sector(engine))
    with engine.begin() as conn:
        grid2 = conn.execute(
            text("SELECT parent_code FROM units WHERE code = :s AND valid_to IS NULL"),
            {"s": sector},
        ).scalar()
        conn.execute(
            text("DELETE FROM resources WHERE kind = 'grid_worker' AND serves_code LIKE :g || '%'"),
            {"g": grid2},
        )
    return sector


def _import_one(
    engine, case_id: str, lon: float, lat: float, inserted: int = 1, observed: str | None = None
):
    observed = observed or _ten_minutes_ago()
    frame = pd.DataFrame(
        [[case_id, "环境卫生", observed, "垃圾未及时清运", lon, lat]],
        columns=["事件编号", "事件类别", "发生时间", "描述", "经度", "纬度"],
    )
    with engine.begin() as conn:
        report = import_file(
            conn, "incidents", frame.to_csv(index=False).encode(), "cases.csv", ImportOptions()
        )
    assert report.inserted == inserted
    return report


def _ten_minutes_ago() -> str:
    """Ten minutes ago as a file from Jiuquan writes it (Beijing time, to the minute)."""
    return (datetime.now(UTC) + timedelta(hours=8) - timedelta(minutes=10)).strftime(
        "%Y-%m-%d %H:%M"
    )


def _state_and_history(engine, case_id: str) -> tuple[tuple, list[tuple]]:
    with engine.connect() as conn:
        state = tuple(conn.execute(text(STATE + "WHERE id = :i"), {"i": case_id}).one())
        events = [tuple(e) for e in conn.execute(text(HISTORY), {"i": case_id})]
    return state, events


def _without_reporter(events: list[tuple]) -> list[tuple]:
    """The history with the report event's actor left out (a patrol vs the importer)."""
    return [e if e[0] != "report" else e[:3] for e in events]


def test_an_imported_case_nobody_serves_waits_like_one_reported_over_http(
    fresh_client, fresh_engine
):
    sector = _empty_grid(fresh_engine)
    lon, lat = inside(fresh_engine, sector)
    posted = fresh_client.post("/api/incidents", json=report_body(lon, lat), headers=auth("admin"))
    assert posted.status_code == 201, posted.json()
    _import_one(fresh_engine, "IMPNOBODY", lon, lat)

    http_state, http_history = _state_and_history(fresh_engine, posted.json()["id"])
    file_state, file_history = _state_and_history(fresh_engine, "IMPNOBODY")
    assert http_state == file_state == ("reported", None, False)
    assert [e[:3] for e in file_history] == [
        ("report", None, "reported"),
        ("note", "reported", "reported"),
    ]
    assert _without_reporter(file_history) == _without_reporter(http_history)
    with fresh_engine.connect() as conn:
        notes = conn.execute(
            text(
                "SELECT note FROM incident_events WHERE kind = 'note' AND incident_id IN "
                "(:a, 'IMPNOBODY') ORDER BY incident_id"
            ),
            {"a": posted.json()["id"]},
        ).scalars()
        assert len(set(notes)) == 1  # the same words: one intake wrote both


def test_an_imported_case_in_a_served_grid_is_dispatched_like_one_reported_over_http(
    fresh_client, fresh_engine
):
    lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
    posted = fresh_client.post("/api/incidents", json=report_body(lon, lat), headers=auth("patrol"))
    assert posted.status_code == 201, posted.json()
    _import_one(fresh_engine, "IMPSERVED", lon, lat)

    http_state, http_history = _state_and_history(fresh_engine, posted.json()["id"])
    file_state, file_history = _state_and_history(fresh_engine, "IMPSERVED")
    assert http_state == file_state and file_state[0] == "dispatched" and file_state[1]
    assert [e[:3] for e in file_history] == [
        ("report", None, "reported"),
        ("dispatch", "reported", "dispatched"),
    ]
    assert _without_reporter(file_history) == _without_reporter(http_history)


def test_a_case_imported_again_from_another_sector_is_updated_and_goes_to_its_team(
    fresh_engine,
):
    """The same id again: updated in place (its new sector, and that sector's team as it was
    dispatched already), no second report; the same row a third time changes nothing."""
    here = worker_sector(fresh_engine)
    there = other_sector(fresh_engine, here)
    observed = _ten_minutes_ago()
    _import_one(fresh_engine, "IMPAGAIN", *inside(fresh_engine, here), observed=observed)
    state, history = _state_and_history(fresh_engine, "IMPAGAIN")

    lon, lat = inside(fresh_engine, there)
    moved = _import_one(fresh_engine, "IMPAGAIN", lon, lat, inserted=0, observed=observed)
    assert (moved.updated, moved.unchanged) == (1, 0)
    with fresh_engine.connect() as conn:
        sector, workers = conn.execute(
            text("SELECT sector_code, assigned_to FROM incidents WHERE id = 'IMPAGAIN'")
        ).one()
        team = conn.execute(
            text(
                "SELECT array_agg(id ORDER BY id) FROM resources WHERE kind = 'grid_worker' "
                "AND retired_at IS NULL AND serves_code = :s"
            ),
            {"s": there},
        ).scalar()
    assert sector == there and workers == team and workers != state[1]
    assert _state_and_history(fresh_engine, "IMPAGAIN")[1] == history

    same = _import_one(fresh_engine, "IMPAGAIN", lon, lat, inserted=0, observed=observed)
    assert (same.updated, same.unchanged) == (0, 1)
