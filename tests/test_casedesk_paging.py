"""The case lists stay bounded with many open cases: `GET /api/cases` pages with
limit/offset (`next_offset`), and /desk and /cases show one page with "more"."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.conftest import auth

OPEN = "status NOT IN ('verified', 'rejected', 'duplicate')"


def at_least_open(engine, wanted: int) -> int:
    """Reopen closed cases of the seeded history until `wanted` are open; the open count."""
    with engine.begin() as conn:
        now_open = conn.execute(text(f"SELECT count(*) FROM incidents WHERE {OPEN}")).scalar()
        if now_open < wanted:
            conn.execute(
                text(
                    "UPDATE incidents SET status = 'dispatched', closed_at = NULL, "
                    "resolved_at = NULL WHERE id IN (SELECT id FROM incidents "
                    "WHERE status = 'verified' ORDER BY id LIMIT :n)"
                ),
                {"n": wanted - now_open},
            )
        return conn.execute(text(f"SELECT count(*) FROM incidents WHERE {OPEN}")).scalar()


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [c["id"] for c in response.json()["cases"]]


def page_ids(html: str) -> list[str]:
    return re.findall(r'<li class="case-row[^"]*" data-id="([^"]+)"', html)


def test_the_supervisors_open_cases_come_in_pages_that_join_up(fresh_client, fresh_engine):
    total = at_least_open(fresh_engine, 620)
    assert total >= 620
    desk = auth("supervisor")
    first = fresh_client.get("/api/cases", params={"area": "me"}, headers=desk)
    body = first.json()
    assert len(body["cases"]) == 200  # the default page, never every open case
    assert body["counts"]["open"] == total and body["next_offset"] == 200
    assert body["offset"] == 0
    whole = ids(fresh_client.get("/api/cases", params={"area": "me", "limit": 600}, headers=desk))
    pages = []
    for start in (0, 300):
        response = fresh_client.get(
            "/api/cases", params={"area": "me", "limit": 300, "offset": start}, headers=desk
        )
        pages += ids(response)
    assert pages == whole and len(set(pages)) == 600  # same order, no case twice or lost
    last = fresh_client.get(
        "/api/cases", params={"area": "me", "limit": 1000, "offset": total - 5}, headers=desk
    ).json()
    assert len(last["cases"]) == 5 and last["next_offset"] is None
    too_many = fresh_client.get("/api/cases", params={"area": "me", "limit": 1001}, headers=desk)
    assert too_many.status_code == 422
    negative = fresh_client.get("/api/cases", params={"area": "me", "offset": -1}, headers=desk)
    assert negative.status_code == 422


def test_the_desk_shows_one_page_of_open_cases_with_more(fresh_client, fresh_engine):
    at_least_open(fresh_engine, 620)
    desk = auth("supervisor")
    wanted = ids(fresh_client.get("/api/cases", params={"area": "me", "limit": 100}, headers=desk))
    page = fresh_client.get("/desk", headers=desk).text
    assert page_ids(page) == wanted[:50]
    more = re.search(r'id="page-more" href="([^"]+)"', page)
    assert more and "offset=50" in more.group(1)
    assert 'id="page-first"' not in page
    second = fresh_client.get(more.group(1).replace("&amp;", "&"), headers=desk).text
    assert page_ids(second) == wanted[50:100]
    assert 'id="page-first"' in second and "第 51–100 件" in second


def test_my_cases_are_paged_too(fresh_client, fresh_engine):
    at_least_open(fresh_engine, 620)
    with fresh_engine.begin() as conn:  # the worker's grids get more than a page of cases
        conn.execute(
            text(
                "UPDATE incidents SET owner_id = 'W001' WHERE id IN (SELECT id FROM incidents "
                f"WHERE {OPEN} ORDER BY id LIMIT 120)"
            )
        )
    worker = auth("grid_worker")
    listed = fresh_client.get(
        "/api/cases", params={"assigned": "me", "limit": 1000}, headers=worker
    )
    mine = ids(listed)
    assert len(mine) >= 120
    page = fresh_client.get("/cases", params={"show": "open"}, headers=worker).text
    assert page_ids(page) == mine[:50] and 'id="page-more"' in page
    later = fresh_client.get("/cases", params={"show": "open", "offset": 50}, headers=worker).text
    assert page_ids(later) == mine[50:100]


def test_a_workers_counts_are_of_all_their_open_cases_whichever_page(fresh_client, fresh_engine):
    """A grid worker's open cases are read in one pass for the page and the counts: the
    counts are those of every open case of theirs, on a short page, past the last page and
    with the overdue filter, and they agree with the whole list."""
    at_least_open(fresh_engine, 620)
    mine = {"assigned": "me"}
    worker = auth("grid_worker")
    whole = fresh_client.get("/api/cases", params={**mine, "limit": 1000}, headers=worker).json()
    cases = whole["cases"]
    assert len(cases) >= 3 and whole["next_offset"] is None
    by_state: dict[str, int] = {}
    for case in cases:
        by_state[case["status"]] = by_state.get(case["status"], 0) + 1
    expected = {
        "open": len(cases),
        "overdue": sum(case["overdue"] for case in cases),
        "by_state": by_state,
    }
    for params in (
        {"limit": 2},
        {"limit": 2, "offset": 1},
        {"offset": len(cases) + 10},
        {"overdue": "true", "limit": 1},
    ):
        body = fresh_client.get("/api/cases", params={**mine, **params}, headers=worker).json()
        counts = {k: body["counts"][k] for k in expected}
        assert counts == expected, params
    short = fresh_client.get("/api/cases", params={**mine, "limit": 2, "offset": 1}, headers=worker)
    assert ids(short) == [c["id"] for c in cases[1:3]]
    late = fresh_client.get("/api/cases", params={**mine, "overdue": "true"}, headers=worker)
    assert ids(late) == [c["id"] for c in cases if c["overdue"]]
