"""The monthly report (issue 20): the print page, its PDF read back with pdftotext, its
XLSX opened with openpyxl; the coverage export's period and Chinese flags; bad months."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date

import openpyxl
import pytest
from sqlalchemy import text

from geo.insight.evaluation import evaluation
from tests.conftest import ARTIFACTS, auth
from tests.incident_support import principal

MONTH = "2026-10"


def _headline(engine) -> dict:
    with engine.connect() as conn:
        admin = principal(conn, "admin")
        return evaluation(conn, admin, "category", date(2026, 10, 1), date(2026, 10, 31)).total


def test_the_print_page_states_its_period_version_and_figures(client, seeded_engine):
    page = client.get(f"/reports/monthly?month={MONTH}", headers=auth("admin"))
    assert page.status_code == 200
    html = page.text
    total = _headline(seeded_engine)
    assert "2026年10月月度分析报告" in html
    assert "2026-10-01 至 2026-10-31" in html and "数据版本" in html
    row = re.search(r'<tr data-figure="filed">.*?</tr>', html, re.S).group(0)
    assert f">{total['filed']:,}<" in row
    assert "上月 2026-09" in html and "去年同期 2025-10" in html
    assert "@page" in client.get("/static/web/gridmap.css").text  # the A4 print rules


def test_the_pdf_has_the_months_figures_in_chinese(client, seeded_engine):
    response = client.get(f"/reports/monthly?month={MONTH}&format=pdf", headers=auth("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    (ARTIFACTS / "reports").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "reports" / f"monthly-{MONTH}.pdf").write_bytes(response.content)
    words = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=response.content, capture_output=True, check=True
    ).stdout.decode("utf-8")
    total = _headline(seeded_engine)
    assert "2026年10月月度分析报告" in words
    assert "立案数" in words and "按期结案率" in words and "二级网格评级" in words
    filed_line = next(line for line in words.splitlines() if line.strip().startswith("立案数"))
    assert f"{total['filed']:,}" in filed_line
    rate = total["rates"]["closed_in_time"]["value"]
    assert any(
        line.strip().startswith("按期结案率") and f"{rate}%" in line for line in words.splitlines()
    )


def test_the_xlsx_states_its_period_in_the_first_rows(client, seeded_engine):
    response = client.get(f"/reports/monthly?month={MONTH}&format=xlsx", headers=auth("admin"))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["概况", "类别", "网格", "网格员", "热点", "覆盖预警"]
    for sheet in book.worksheets:
        assert "2026年10月" in sheet["A1"].value
        assert "2026-10-01" in sheet["A2"].value and "2026-10-31" in sheet["A2"].value
        assert "数据版本" in sheet["A3"].value
        assert sheet.freeze_panes == "A5"
    summary = book["概况"]
    assert [c.value for c in summary[4]][:2] == ["指标", "2026年10月"]
    assert summary["B5"].value == _headline(seeded_engine)["filed"]
    flags = [row[2] for row in book["覆盖预警"].iter_rows(min_row=5, values_only=True) if row[2]]
    assert flags and all(re.search(r"[\u4e00-\u9fff]", f) for f in flags)


def test_a_month_without_cases_is_a_report_that_says_so(client):
    page = client.get("/reports/monthly?month=2019-02", headers=auth("admin"))
    assert page.status_code == 200 and 'id="report-empty"' in page.text
    assert "本月无案件" in page.text
    xlsx = client.get("/reports/monthly?month=2019-02&format=xlsx", headers=auth("admin"))
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book["网格员"]["A5"].value.startswith("本月无案件")


@pytest.mark.parametrize("month", ["2099-01", "2026-13", "November"])
def test_a_future_or_malformed_month_is_a_422_naming_month(client, month):
    response = client.get(f"/reports/monthly?month={month}", headers=auth("admin"))
    assert response.status_code == 422 and response.json()["field"] == "month"


def test_the_coverage_xlsx_states_its_period_with_chinese_flags(client):
    params = {"level": "sector", "since": "2026-10-01", "until": "2026-10-31", "format": "xlsx"}
    response = client.get("/api/coverage", params=params, headers=auth("official"))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert "2026-10-01" in sheet["A2"].value and "2026-10-31" in sheet["A2"].value
    header = [c.value for c in sheet[4]]
    assert header[0] == "编码 code" and header[-1] == "预警 flags"
    assert sheet.freeze_panes == "C5"
    assert sheet.column_dimensions["B"].width >= 10
    flags = [row[-1] for row in sheet.iter_rows(min_row=5, values_only=True) if row[-1]]
    assert flags and not any(re.search(r"[a-z_]{4,}", f) for f in flags)


def test_the_coverage_page_honours_its_period(client):
    page = client.get(
        "/coverage?level=grid2&since=2026-10-01&until=2026-10-31", headers=auth("official")
    ).text
    assert 'value="2026-10-01"' in page and 'value="2026-10-31"' in page
    assert (
        "/api/coverage?level=grid2&amp;since=2026-10-01&amp;until=2026-10-31&amp;format=xlsx"
        in page
    )
    api = client.get(
        "/api/coverage?level=grid2&since=2026-10-01&until=2026-10-31", headers=auth("official")
    ).json()
    year = client.get("/api/coverage?level=grid2", headers=auth("official")).json()
    month_total = sum(r["incidents"] for r in api["rows"])
    assert 0 < month_total < sum(r["incidents"] for r in year["rows"])
    for row in api["rows"][:3]:
        assert f'data-code="{row["code"]}"' in page


def test_the_pdf_is_rendered_once_per_content_and_again_after_a_change(fresh_engine):
    from api.routers.evaluation import print_html
    from geo.publish.report_cache import monthly_pdf

    with fresh_engine.connect() as conn:
        admin = principal(conn, "admin")
        first = monthly_pdf(conn, admin, MONTH, "zh", print_html)
        again = monthly_pdf(conn, admin, MONTH, "zh", print_html)
        official = monthly_pdf(conn, principal(conn, "official"), MONTH, "zh", print_html)
    assert (first.hit, again.hit, official.hit) == (False, True, False)
    assert again.body == first.body and first.body.startswith(b"%PDF")
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incidents SET status = 'rejected' WHERE id = (SELECT min(id) "
                "FROM incidents WHERE observed_at >= '2026-10-05' AND status = 'verified')"
            )
        )
    with fresh_engine.connect() as conn:
        changed = monthly_pdf(conn, principal(conn, "admin"), MONTH, "zh", print_html)
    assert not changed.hit and changed.body != first.body
