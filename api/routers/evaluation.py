"""Evaluation for officials: `GET /api/evaluation` (graded indicators), its trend and a
unit's cases, the `/evaluation` page and the monthly report `/reports/monthly`."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import READ_CONN
from api.security import require
from api.web import page_language, render, templates
from geo.access.roles import Permission, Principal
from geo.core.errors import InvalidInput
from geo.core.settings import get_settings
from geo.insight import evaluation as ev
from geo.maps.assets import CHART_ASSETS
from geo.publish import report_cache, reports
from geo.publish.messages import messages_for, translator

router = APIRouter(tags=["evaluation"])

_SINCE = Query(None, description="first Beijing day of the period (default: 364 days before until)")
_UNTIL = Query(None, description="last Beijing day of the period, included (default: today)")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/api/evaluation", summary="Case indicators per unit, worker or category, graded")
def get_evaluation(
    level: str = Query(
        "community", description="community, grid2, sector, worker, category or subdistrict"
    ),
    since: date | None = _SINCE,
    until: date | None = _UNTIL,
    parent: str | None = Query(None, description="only the units inside this one (drill-down)"),
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=READ_CONN,
) -> dict:
    report = ev.evaluation(conn, principal, level, since, until, parent)
    return {
        "level": report.level,
        "since": report.since,
        "until": report.until,
        "weights": report.weights,
        "grade_bounds": report.grade_bounds,
        "grade_colours": ev.GRADE_COLOURS,
        "small_sample_below": report.small_sample,
        "total": report.total,
        "rows": ev.public_rows(report),
    }


@router.get("/api/evaluation/trend", summary="Cases per day, week or month by category")
def get_trend(
    since: date | None = _SINCE,
    until: date | None = _UNTIL,
    every: str = Query("day", description="day, week or month"),
    unit: str | None = Query(None, description="a community, level-2 grid or sector"),
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=READ_CONN,
) -> dict:
    return ev.trend(conn, principal, since, until, every, unit)


@router.get("/api/evaluation/cases", summary="The cases of a unit in the period (drill-down)")
def get_unit_cases(
    unit: str = Query(..., description="a community, level-2 grid or sector code"),
    since: date | None = _SINCE,
    until: date | None = _UNTIL,
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=READ_CONN,
) -> dict:
    return ev.unit_cases(conn, principal, unit, since, until)


@router.get("/evaluation", response_class=HTMLResponse, summary="Evaluation page")
def evaluation_page(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
) -> HTMLResponse:
    settings = get_settings()
    config = {
        "lang": lang,
        "levels": list(ev.levels_for(principal)),
        "rates": list(ev.RATES),
        "colours": ev.GRADE_COLOURS,
        "messages": messages_for(lang, "eval.", "term.", "rate."),
    }
    return render(
        request,
        "evaluation.html",
        lang,
        principal,
        levels=ev.levels_for(principal),
        rates=ev.RATES,
        grade_bounds=settings.evaluation_grade_bounds,
        small_sample=settings.evaluation_small_sample,
        echarts=CHART_ASSETS["echarts"],
        config=config,
    )


@router.get(
    "/reports/monthly",
    summary="Monthly analysis report: print-ready page, PDF or XLSX",
    response_model=None,
)
def monthly_report(
    request: Request,
    month: str | None = Query(None, description="YYYY-MM (default: last month)"),
    format: str = Query("html", description="html, pdf or xlsx"),
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.READ_COVERAGE)),
    conn=READ_CONN,
) -> Response:
    if format not in ("html", "pdf", "xlsx"):
        raise InvalidInput(f"unknown format {format!r}; one of: html, pdf, xlsx", field="format")
    if format == "pdf":
        pdf = report_cache.monthly_pdf(
            conn, principal, month, lang, lambda report: print_html(report, lang, principal)
        )
        return Response(
            pdf.body,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="monthly_{pdf.month}.pdf"'},
        )
    report = reports.monthly_report(conn, principal, month)
    name = f"monthly_{report.month:%Y%m}"
    if format == "xlsx":
        return Response(
            reports.to_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return render(request, "monthly_report.html", lang, principal, **report_context(report))


def report_context(report: reports.MonthlyReport, printing: bool = False) -> dict:
    settings = get_settings()
    return {
        "report": report,
        "rates": ev.RATES,
        "change": reports.change,
        "grade_bounds": settings.evaluation_grade_bounds,
        "small_sample": settings.evaluation_small_sample,
        "printing": printing,
    }


def print_html(
    report: reports.MonthlyReport, lang: str = "zh", principal: Principal | None = None
) -> str:
    """The report page as printed (no buttons), for the PDF."""
    other = next(code for code in ("zh", "en") if code != lang)
    return templates.get_template("monthly_report.html").render(
        lang=lang,
        t=translator(lang),
        principal=principal,
        switch_url=f"?lang={other}",
        other_lang=other,
        **report_context(report, printing=True),
    )
