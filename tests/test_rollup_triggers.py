"""The incident rollups stay exact when the UPDATE triggers count only the rows whose figures
changed (migration 0016v): a boundary edit's re-attach (codes only), a re-dispatch
(assigned_to only) and a mixed UPDATE, each checked against a recount from the incidents."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import busiest_sectors

SECTOR_ROLLUP = """
    SELECT sector_code, category, day, incidents, verified FROM incident_daily_stats
    WHERE incidents <> 0 OR verified <> 0 ORDER BY 1, 2, 3
"""
SECTOR_RECOUNT = """
    SELECT coalesce(sector_code, ''), category, (observed_at AT TIME ZONE 'Asia/Shanghai')::date,
           count(*), count(*) FILTER (WHERE status = 'verified')
    FROM incidents GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
WORKER_ROLLUP = """
    SELECT worker_id, category, sum(incidents), sum(verified) FROM incident_worker_daily_stats
    GROUP BY 1, 2 HAVING sum(incidents) <> 0 OR sum(verified) <> 0 ORDER BY 1, 2
"""
WORKER_RECOUNT = """
    SELECT w, category, count(*), count(*) FILTER (WHERE status = 'verified')
    FROM incidents CROSS JOIN LATERAL unnest(
        CASE WHEN owner_id IS NOT NULL THEN ARRAY[owner_id] ELSE assigned_to END) AS w
    GROUP BY 1, 2 ORDER BY 1, 2
"""


def _exact(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text(SECTOR_ROLLUP)).all() == conn.execute(text(SECTOR_RECOUNT)).all()
        assert conn.execute(text(WORKER_ROLLUP)).all() == conn.execute(text(WORKER_RECOUNT)).all()


def test_rollups_stay_exact_through_code_only_assignee_only_and_mixed_updates(fresh_engine):
    _exact(fresh_engine)
    with fresh_engine.begin() as conn:
        a, b = busiest_sectors(conn)
        # a re-attach: codes only, some rows moving sector, some only courtyard
        moved = conn.execute(
            text(
                "UPDATE incidents SET sector_code = :b, courtyard_code = NULL "
                "WHERE id IN (SELECT id FROM incidents WHERE sector_code = :a ORDER BY id LIMIT 40)"
            ),
            {"a": a, "b": b},
        ).rowcount
        assert moved == 40
        conn.execute(
            text(
                "UPDATE incidents SET courtyard_code = NULL WHERE id IN "
                "(SELECT id FROM incidents WHERE sector_code = :b ORDER BY id DESC LIMIT 20)"
            ),
            {"b": b},
        )
    _exact(fresh_engine)
    with fresh_engine.begin() as conn:
        # a re-dispatch: the assignees only (worker rollups move, sector rollups do not)
        workers = conn.execute(
            text("SELECT id FROM resources WHERE kind = 'grid_worker' ORDER BY id LIMIT 2")
        ).scalars()
        w1, w2 = list(workers)
        conn.execute(
            text(
                "UPDATE incidents SET assigned_to = ARRAY[:w], updated_at = now() WHERE id IN "
                "(SELECT id FROM incidents WHERE owner_id IS NULL ORDER BY id LIMIT 30)"
            ),
            {"w": w2},
        )
        # a mixed UPDATE: some rows change status, the others are rewritten unchanged
        conn.execute(
            text(
                "UPDATE incidents SET status = CASE WHEN id < :pivot THEN 'verified' "
                "ELSE status END, owner_id = CASE WHEN id < :pivot THEN :w ELSE owner_id END, "
                "closed_at = CASE WHEN id < :pivot THEN coalesce(closed_at, reported_at "
                "+ interval '3 hours') ELSE closed_at END WHERE id IN "
                "(SELECT id FROM incidents WHERE status <> 'verified' ORDER BY id LIMIT 30)"
            ),
            {
                "w": w1,
                "pivot": conn.execute(
                    text(
                        "SELECT id FROM incidents WHERE status <> 'verified' "
                        "ORDER BY id OFFSET 15 LIMIT 1"
                    )
                ).scalar_one(),
            },
        )
    _exact(fresh_engine)


def test_migration_0016v_goes_down_and_up_again(fresh_url, fresh_engine):
    from alembic import command

    from geo.ops.migrate import alembic_config

    def bodies() -> dict[str, str]:
        with fresh_engine.connect() as conn:
            return dict(
                conn.execute(
                    text(
                        "SELECT proname, prosrc FROM pg_proc WHERE proname IN "
                        "('incident_stats_update', 'incident_worker_stats_update')"
                    )
                ).all()
            )

    config = alembic_config(fresh_url)
    assert all("GROUP BY id," in body for body in bodies().values())
    command.downgrade(config, "0016e")
    assert not any("GROUP BY id," in body for body in bodies().values())
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incidents SET assigned_to = NULL WHERE id IN "
                "(SELECT id FROM incidents ORDER BY id LIMIT 5)"
            )
        )
    _exact(fresh_engine)
    command.upgrade(config, "head")
    assert all("GROUP BY id," in body for body in bodies().values())
    _exact(fresh_engine)
