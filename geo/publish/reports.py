"""The monthly analysis report (月度分析报告): a month's case figures against the month
before and the same month a year before, top categories, Gi* hotspots, graded grids and
workers, coverage flags; as figures for a page, as PDF (WeasyPrint) and as XLSX.

    >>> report = monthly_report(conn, principal, "2026-11")          # doctest: +SKIP
    >>> report.headline["current"]["filed"], report.empty
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote, urlparse

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.core import spreadsheet
from geo.core.dataversion import data_version
from geo.core.errors import InvalidInput
from geo.core.settings import PROJECT_ROOT
from geo.core.terms import BEIJING
from geo.insight.coverage import coverage
from geo.insight.evaluation import FIGURES, RATES, evaluation
from geo.insight.hotspots import hotspot_analysis

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
#: hot cells listed on the report (the hottest first)
TOP_HOTSPOTS = 5
TOP_CATEGORIES = 5
#: the headline figures, in the order printed
HEADLINE = ("filed", "closed", "closed_in_time", "sent_back", "extended", "median_hours_to_close")
HEADLINE_RATES = tuple(RATES)


@dataclass
class MonthlyReport:
    month: date
    until: date
    previous: date
    year_before: date
    data_version: int
    generated_at: datetime
    #: "current" / "previous" / "year_before" → district figures
    headline: dict[str, dict] = field(default_factory=dict)
    categories: list[dict] = field(default_factory=list)
    grids: list[dict] = field(default_factory=list)
    workers: list[dict] = field(default_factory=list)
    hotspots: list[dict] = field(default_factory=list)
    hotspot_summary: dict[int, int] = field(default_factory=dict)
    flags: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No case was observed in the month (the report says so)."""
        return self.headline["current"]["filed"] + self.headline["current"]["voided"] == 0

    @property
    def label(self) -> str:
        return f"{self.month.year}年{self.month.month}月"


def parse_month(month: str | None, now: datetime) -> date:
    """The first day of `YYYY-MM` (default: last month); a month after the current one is
    refused, naming the field `month`."""
    today = now.astimezone(BEIJING).date()
    if not month:
        return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    m = MONTH.match(month)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidInput(f"month {month!r} is not a month: write YYYY-MM", field="month")
    first = date(int(m.group(1)), int(m.group(2)), 1)
    if first > today:
        raise InvalidInput(
            f"month {month} is in the future (today is {today} in Beijing)", field="month"
        )
    return first


def _month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def monthly_report(
    conn: Connection,
    principal: Principal,
    month: str | None = None,
    now: datetime | None = None,
    raw: bool = False,
) -> MonthlyReport:
    """The month's report as `principal` may see it (key-population cases only for those
    allowed them); `raw`: the case figures counted from the incidents and events instead
    of the rollups (the benchmark's baseline)."""
    now = now or datetime.now(UTC)
    first = parse_month(month, now)
    last = _month_end(first)
    previous, year_before = _shift(first, -1), _shift(first, -12)
    report = MonthlyReport(first, last, previous, year_before, data_version(conn).version, now)
    for key, start in (("current", first), ("previous", previous), ("year_before", year_before)):
        by_category = evaluation(
            conn, principal, "category", start, _month_end(start), now=now, raw=raw
        )
        report.headline[key] = by_category.total
        if key == "current":
            rows = [r for r in by_category.rows if r["filed"] or r["voided"]]
            report.categories = sorted(rows, key=lambda r: (-r["filed"], r["code"]))[
                :TOP_CATEGORIES
            ]
    report.grids = evaluation(conn, principal, "grid2", first, last, now=now, raw=raw).rows
    report.workers = [
        r
        for r in evaluation(conn, principal, "worker", first, last, now=now, raw=raw).rows
        if r["filed"] or r["voided"]
    ]
    for rows in (report.grids, report.workers):
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
    cov = coverage(conn, principal, "sector", first, last, now=now)
    report.flags = [
        {"code": r["code"], "name_zh": r["name_zh"], "flags": [f["label_zh"] for f in r["flags"]]}
        for r in cov.rows
        if r["flags"]
    ]
    if not report.empty:
        _add_hotspots(conn, principal, report)
    return report


def _add_hotspots(conn: Connection, principal: Principal, report: MonthlyReport) -> None:
    """The month's Gi* hot cells (99 % and 95 %), hottest first, with the sector holding
    each cell's centre."""
    result = hotspot_analysis(
        conn,
        principal,
        since=report.month.isoformat(),
        until=report.until.isoformat(),
    )
    cells = result.hotspots.cells
    report.hotspot_summary = result.hotspots.summary()
    hot = cells[cells["gi_bin"] >= 2].sort_values("z", ascending=False).head(TOP_HOTSPOTS)
    if hot.empty:
        return
    centres = gpd.GeoSeries(hot.geometry.centroid, crs=hot.crs).to_crs(4326)
    for (_, cell), centre in zip(hot.iterrows(), centres, strict=True):
        sector = conn.execute(
            text(
                "SELECT code, name_zh FROM units WHERE valid_to IS NULL AND level = 'sector' "
                "AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) LIMIT 1"
            ),
            {"x": centre.x, "y": centre.y},
        ).first()
        report.hotspots.append(
            {
                "gi_bin": int(cell["gi_bin"]),
                "count": int(cell["count"]),
                "z": round(float(cell["z"]), 2),
                "lon": round(centre.x, 5),
                "lat": round(centre.y, 5),
                "sector_code": sector.code if sector else None,
                "sector_name": sector.name_zh if sector else None,
            }
        )


def change(current: float | None, before: float | None) -> str:
    """`+12.5%` / `-3.0%` / `–` (no base to compare with)."""
    if current is None or not before:
        return "–"
    return f"{100.0 * (current - before) / before:+.1f}%"


def _static_fetcher():
    """A WeasyPrint URL fetcher that reads the service's own static files and nothing else
    (the PDF never touches the network)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticFiles(URLFetcher):
        def fetch(self, url, headers=None):
            path = unquote(urlparse(url).path)
            if url.startswith("file:") and path.startswith("/static/"):
                local = (PROJECT_ROOT / path.lstrip("/")).resolve()
                if local.is_relative_to(PROJECT_ROOT / "static") and local.is_file():
                    return URLFetcherResponse(
                        url, local.read_bytes(), {"Content-Type": _mime(local.suffix)}
                    )
            raise ValueError(f"the report may not load {url}")

    return StaticFiles()


def _mime(suffix: str) -> str:
    return {".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}.get(
        suffix, "application/octet-stream"
    )


def to_pdf(html: str) -> bytes:
    """The printed page as PDF (A4, the stylesheet's print rules, Debian's CJK fonts)."""
    from weasyprint import HTML

    return HTML(string=html, base_url="file:///", url_fetcher=_static_fetcher()).write_pdf()


#: the columns of a graded unit (grid or worker) in the workbook
GRADED_COLUMNS = [
    "立案数",
    "结案率(%)",
    "按期结案率(%)",
    "一次完成率(%)",
    "综合得分",
    "等级",
    "排名",
    "样本不足",
]


def _graded_row(r: dict) -> list:
    return [
        r["filed"],
        r["rates"]["closed"]["value"],
        r["rates"]["closed_in_time"]["value"],
        r["rates"]["first_time_fixed"]["value"],
        r["score"],
        r["grade"],
        r["rank"],
        "是" if r["small_sample"] else "",
    ]


def _sheet(book, heading: list[str], title: str, header: list[str], rows: list[list]) -> None:
    """One sheet: the report's heading lines, a bold frozen header row, sized columns."""
    from openpyxl.styles import Font, PatternFill

    ws = book.create_sheet(title)
    for line in heading:
        spreadsheet.append_safe(ws, [line])
    ws["A1"].font = Font(bold=True, size=13)
    spreadsheet.append_safe(ws, header)
    for cell in ws[len(heading) + 1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE6F0")
    if not rows:
        spreadsheet.append_safe(ws, ["本月无案件 no cases this month"])
    for row in rows:
        spreadsheet.append_safe(ws, row)
    ws.freeze_panes = ws.cell(row=len(heading) + 2, column=1)
    for k, text_ in enumerate(header, start=1):
        width = max(
            [len(str(text_)) * 2] + [len(str(r[k - 1])) + 2 for r in rows if k - 1 < len(r)]
        )
        ws.column_dimensions[ws.cell(row=1, column=k).column_letter].width = min(max(width, 10), 40)


def _headline_rows(report: MonthlyReport) -> list[list]:
    cur, prev, year = (report.headline[k] for k in ("current", "previous", "year_before"))
    lines = []
    for key in HEADLINE:
        zh, en = FIGURES[key]
        lines.append([f"{zh} {en}", cur[key], prev[key], year[key]])
    for key in HEADLINE_RATES:
        zh = RATES[key][2]
        lines.append([f"{zh}(%)", *(h["rates"][key]["value"] for h in (cur, prev, year))])
    return lines


def _sheets(report: MonthlyReport) -> list[tuple[str, list[str], list[list]]]:
    """(title, header, rows) of each sheet, in order."""
    months = [f"上月 {report.previous:%Y-%m}", f"去年同期 {report.year_before:%Y-%m}"]
    categories = [
        [
            r["name_zh"],
            r["filed"],
            r["closed"],
            r["rates"]["closed_in_time"]["value"],
            r["sent_back"],
            r["extended"],
        ]
        for r in report.categories
    ]
    hotspots = [
        [{3: "99%", 2: "95%"}.get(h["gi_bin"], ""), h["count"], h["z"], h["sector_name"]]
        + [h["lon"], h["lat"]]
        for h in report.hotspots
    ]
    return [
        ("概况", ["指标", report.label, *months], _headline_rows(report)),
        ("类别", ["类别", "立案数", "结案数", "按期结案率(%)", "返工数", "延期数"], categories),
        (
            "网格",
            ["编码", "二级网格", *GRADED_COLUMNS],
            [[r["code"], r["name_zh"], *_graded_row(r)] for r in report.grids],
        ),
        (
            "网格员",
            ["网格员", "所在网格", *GRADED_COLUMNS],
            [[r["code"], r["parent_code"], *_graded_row(r)] for r in report.workers],
        ),
        ("热点", ["置信度", "事件数", "Gi* z", "片区", "经度", "纬度"], hotspots),
        (
            "覆盖预警",
            ["编码", "片区", "预警"],
            [[f["code"], f["name_zh"], "；".join(f["flags"])] for f in report.flags],
        ),
    ]


def to_xlsx(report: MonthlyReport) -> bytes:
    """The report as a workbook: its period and data version in the first rows of every
    sheet, Chinese headers, column widths, the header row frozen."""
    book = spreadsheet.workbook()
    heading = [
        f"西北街街道 {report.label} 月度分析报告",
        f"统计期间 period: {report.month} 至 {report.until} (北京时间)",
        f"数据版本 data version: {report.data_version}",
    ]
    for title, header, rows in _sheets(report):
        _sheet(book, heading, title, header, rows)
    del book["Sheet"]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
