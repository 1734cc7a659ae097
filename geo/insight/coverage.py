"""Coverage per unit for officials: who and what each grid holds, who serves it, how well.

    >>> report = coverage(conn, principal, level="grid2")            # doctest: +SKIP
    >>> report.rows[0]["households_per_worker"], report.rows[0]["flags"]

Each row carries the unit's counts (from the points attached to it), who serves it, its
incidents in the period, and flags, each with the threshold it used. Sensitive incident
categories count only for callers who may see them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal, Role
from geo.cases.stats import (
    empty_figures,
    for_rollup_reads,
    incident_figures,
    incident_figures_as_of,
)
from geo.core import spreadsheet
from geo.core.errors import InvalidInput
from geo.core.settings import get_settings
from geo.core.terms import BEIJING, workload
from geo.grid.attach import AS_OF, codes_sql

LEVELS = ("sector", "grid2", "community")
#: one row per sub-district: the city's side-by-side comparison (0017t; a tenant gets its one)
SUBDISTRICT = "subdistrict"


def levels_for(principal: Principal) -> tuple[str, ...]:
    """The levels a caller's pages offer: a city official's also compare sub-districts."""
    return (*LEVELS, SUBDISTRICT) if principal.has(Role.CITY) else LEVELS


DEFAULT_PERIOD = timedelta(days=365)

#: every column of a coverage row: key, 中文, English (exports and pages use this table)
METRICS: list[tuple[str, str, str]] = [
    ("code", "编码", "code"),
    ("name_zh", "名称", "name (Chinese)"),
    ("name_en", "英文名称", "name (English)"),
    ("parent_code", "上级编码", "parent code"),
    ("area_km2", "面积(平方公里)", "area (km²)"),
    ("households", "户数", "households"),
    ("residents", "人数", "residents"),
    ("shops", "商业门店", "shops"),
    ("enterprises", "企业", "enterprises"),
    ("institutions", "事业单位", "institutions"),
    ("courtyards_managed", "物管小区", "managed courtyards"),
    ("courtyards_scattered", "散居楼院", "scattered courtyards"),
    ("courtyards_rental", "出租户", "rental courtyards"),
    ("courtyards_without_company", "无物业楼院", "courtyards without property company"),
    ("property_companies", "物业企业", "property companies"),
    ("red_property_companies", "红色物业", "red-property companies"),
    ("working_committees", "街道党工委", "working committees"),
    ("community_committees", "社区党委", "community committees"),
    ("party_branches", "网格党支部", "party branches"),
    ("party_branches_agency", "机关党支部", "agency branches"),
    ("party_branches_courtyard", "楼院党支部", "courtyard branches"),
    ("party_branches_nonpublic", "非公企业党支部", "non-public enterprise branches"),
    ("building_groups", "楼栋党小组", "building groups"),
    ("central_households", "党员中心户", "central households"),
    ("party_members_direct", "直管党员", "direct party members"),
    ("party_members_in_service", "在职党员", "in-service party members"),
    ("cobuilding_units", "共驻共建单位", "co-building units"),
    ("grid_workers", "网格员", "grid workers"),
    ("households_per_worker", "户/网格员", "households per worker"),
    ("stationed_officers", "驻点干警", "stationed officers"),
    ("incidents", "事件数", "incidents"),
    ("incidents_open", "未结事件", "open incidents"),
    ("incidents_overdue", "超期事件", "overdue incidents"),
    ("closed_in_time_pct", "按时办结率(%)", "closed within limit (%)"),
    ("median_hours_to_close", "办结时长中位数(小时)", "median hours to close"),
]
LABELS = {key: (zh, en) for key, zh, en in METRICS}
#: the metrics a reader looks at first (the table's default columns, the map's popups)
KEY_METRICS = (
    "households",
    "residents",
    "shops",
    "grid_workers",
    "households_per_worker",
    "stationed_officers",
    "party_branches",
    "incidents",
    "incidents_open",
    "incidents_overdue",
    "closed_in_time_pct",
)

#: flag key → (中文, English, the metric it reads)
FLAGS = {
    "no_grid_worker": ("无网格员", "no grid worker", "grid_workers"),
    "over_target": (
        "网格员负荷超标",
        "households per worker above target",
        "households_per_worker",
    ),
    "no_party_branch": ("无网格党支部", "no party branch", "party_branches"),
    "no_stationed_officer": ("无驻点干警", "no stationed officer", "stationed_officers"),
    "overdue_above_limit": ("超期事件过多", "overdue cases above the limit", "incidents_overdue"),
    "courtyards_without_company": (
        "有无物业楼院",
        "courtyards without a property company",
        "courtyards_without_company",
    ),
}


@dataclass
class CoverageReport:
    level: str
    since: date
    until: date
    thresholds: dict[str, float]
    rows: list[dict] = field(default_factory=list)
    #: the boundaries' moment, or None for the current boundaries
    as_of: datetime | None = None


SQL_DIR = Path(__file__).parent / "sql"
_AS_OF_UNITS = AS_OF["units"]
_AS_OF_YARDS = AS_OF["courtyards"]


def _attached(points: str, columns: str) -> str:
    """`columns` of `points` with the sector they lie in on the boundaries valid at :at."""
    hit = codes_sql(points, courtyards=False, as_of=True)
    return f"(SELECT {columns}, hit.sector_code FROM {points} t JOIN ({hit}) hit ON hit.id = t.id)"


#: households, residents and businesses per sector, from points `{households}` and
#: `{businesses}` carrying their sector (the as-of view)
_HOLDINGS_COUNTED = """(
    SELECT sector_code, sum(households) AS households, sum(residents) AS residents,
           sum(shops) AS shops, sum(enterprises) AS enterprises,
           sum(institutions) AS institutions
    FROM (SELECT sector_code, count(*) AS households, 0 AS residents, 0 AS shops,
                 0 AS enterprises, 0 AS institutions
          FROM {households} hh GROUP BY sector_code
          UNION ALL
          SELECT h.sector_code, 0, count(*), 0, 0, 0
          FROM residents r JOIN {households} h ON h.id = r.household_id GROUP BY h.sector_code
          UNION ALL
          SELECT sector_code, 0, 0, count(*) FILTER (WHERE kind = 'shop'),
                 count(*) FILTER (WHERE kind = 'enterprise'),
                 count(*) FILTER (WHERE kind = 'institution')
          FROM {businesses} b GROUP BY sector_code) c
    GROUP BY sector_code)"""
#: the same kept ahead of time by triggers (0018r): a few rows per sector, not every point
_HOLDINGS_KEPT = """(
    SELECT sector_code, sum(n) FILTER (WHERE what = 'households') AS households,
           sum(n) FILTER (WHERE what = 'residents') AS residents,
           sum(n) FILTER (WHERE what = 'shop') AS shops,
           sum(n) FILTER (WHERE what = 'enterprise') AS enterprises,
           sum(n) FILTER (WHERE what = 'institution') AS institutions
    FROM sector_holdings GROUP BY sector_code)"""


def sources(as_of: bool) -> dict[str, str]:
    """What coverage_units.sql reads: the current rows, whose points carry their stored
    codes; or the units and courtyards valid at :at, with every point attached to them by
    the same edge rule (slower: each point is located again)."""
    if not as_of:
        return {
            "units": "(SELECT * FROM units WHERE valid_to IS NULL)",
            "courtyards": "(SELECT * FROM courtyards WHERE valid_to IS NULL)",
            "households": "households",
            "businesses": "businesses",
            # retired workers, officers and organisations (`geo.people.staff`) count no more
            "resources": "(SELECT * FROM resources WHERE retired_at IS NULL)",
            "holdings": _HOLDINGS_KEPT,
        }
    yards = f"(SELECT id, kind, property_company_id, geom FROM {_AS_OF_YARDS})"
    surfaces = f"(SELECT id, ST_PointOnSurface(geom) AS geom FROM {_AS_OF_YARDS})"
    households = _attached("households", "t.id")
    businesses = _attached("businesses", "t.kind")
    return {
        "units": _AS_OF_UNITS,
        "holdings": _HOLDINGS_COUNTED.format(households=households, businesses=businesses),
        "courtyards": f"(SELECT y.kind, y.property_company_id, hit.sector_code FROM {yards} y "
        f"JOIN ({codes_sql(surfaces, courtyards=False, as_of=True)}) hit "
        f"ON hit.id = y.id)",
        "households": households,
        "businesses": businesses,
        "resources": f"(SELECT r.id, r.kind, r.subtype, r.branch_type, r.serves_code, "
        f"r.has_party_org, a.sector_code FROM resources r LEFT JOIN "
        f"{_attached('(SELECT * FROM resources WHERE geom IS NOT NULL)', 't.id')} a "
        f"ON a.id = r.id "
        f"WHERE r.retired_at IS NULL OR r.retired_at > CAST(:at AS timestamptz))",
    }


def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def _day(value: date | datetime) -> date:
    """The Beijing-time day of a date or instant (a naive time is taken as Beijing time)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=BEIJING)
        return aware.astimezone(BEIJING).date()
    return value


def period_days(
    since: date | datetime | None, until: date | datetime | None, now: datetime
) -> tuple[date, date]:
    """The first and last Beijing-time day of the period (default: the 365 days to today)."""
    last = _day(until or now)
    first = _day(since) if since else last - DEFAULT_PERIOD + timedelta(days=1)
    if first > last:
        raise InvalidInput(f"since ({first}) must not be after until ({last})")
    return first, last


def coverage(
    conn: Connection,
    principal: Principal,
    level: str = "sector",
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    now: datetime | None = None,
    as_of: datetime | None = None,
) -> CoverageReport:
    """One row per unit at `level`, with the incidents observed on the Beijing-time days
    from `since` to `until`, both included (default: the 365 days to today). The units are
    the current ones, or with `as_of` those valid then, every point located in them again
    (statistics of a past period on the boundaries valid then)."""
    if level not in (*LEVELS, SUBDISTRICT):
        known = ", ".join((*LEVELS, SUBDISTRICT))
        raise InvalidInput(f"unknown level {level!r}; one of: {known}")
    settings = get_settings()
    now = now or datetime.now(UTC)
    since, until = period_days(since, until, now)
    thresholds = {
        "households_per_worker": settings.households_per_worker_target,
        "incidents_overdue": settings.overdue_cases_limit,
    }
    for_rollup_reads(conn)
    sql = _sql("coverage_units.sql").format(**sources(as_of is not None))
    params = {"level": level} if as_of is None else {"level": level, "at": as_of}
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    if as_of is None:
        by_unit = incident_figures(conn, principal, level, since, until, now)
    else:
        by_unit = incident_figures_as_of(conn, principal, level, since, until, now, as_of)
    for row in rows:
        entry = by_unit.get(row["code"], {"total": None, "by_category": {}})
        row.update(entry["total"] or empty_figures())
        row["incidents_by_category"] = entry["by_category"]
        workers = row["grid_workers"]
        row["households_per_worker"] = round(row["households"] / workers, 1) if workers else None
        row["households_per_worker_target"] = settings.households_per_worker_target
        row["area_km2"] = round(row["area_km2"], 4)
        row["flags"] = _flags(row, thresholds)
    return CoverageReport(level, since, until, thresholds, rows, as_of)


def _flags(row: dict, thresholds: dict) -> list[dict]:
    target = thresholds["households_per_worker"]
    limit = thresholds["incidents_overdue"]
    raised = {
        "no_grid_worker": (row["grid_workers"] < 1, 1, "grid_workers < 1"),
        "over_target": (
            workload(row["households_per_worker"], target, get_settings().rebalance_band) == "over",
            target,
            f"households_per_worker > {target}",
        ),
        "no_party_branch": (row["party_branches"] < 1, 1, "party_branches < 1"),
        "no_stationed_officer": (row["stationed_officers"] < 1, 1, "stationed_officers < 1"),
        "overdue_above_limit": (
            row["incidents_overdue"] > limit,
            limit,
            f"incidents_overdue > {limit}",
        ),
        "courtyards_without_company": (
            row["courtyards_without_company"] > 0,
            0,
            "courtyards_without_company > 0",
        ),
    }
    out = []
    for key, (on, threshold, rule) in raised.items():
        if on:
            zh, en, metric = FLAGS[key]
            out.append(
                {
                    "flag": key,
                    "label_zh": zh,
                    "label_en": en,
                    "metric": metric,
                    "value": row[metric],
                    "threshold": threshold,
                    "rule": rule,
                }
            )
    return out


def completeness(conn: Connection) -> dict:
    """District-wide gaps: the share of the outline covered by sectors (must be 100 %),
    points not attached and why, courtyards without a grid, resources assigned to none."""
    share = conn.execute(
        text(
            "SELECT 100.0 * ST_Area(ST_Intersection(d.g, s.g)) / ST_Area(d.g) FROM "
            "(SELECT ST_Transform(geom, 4542) g FROM units WHERE level = 'district' "
            " AND valid_to IS NULL) d, (SELECT ST_Transform(ST_Union(geom), 4542) g FROM units "
            " WHERE level = 'sector' AND valid_to IS NULL) s"
        )
    ).scalar_one()
    unattached = {}
    for table in ("households", "businesses", "resources", "incidents"):
        reasons = conn.execute(
            text(f"""
            SELECT CASE WHEN p.geom IS NULL THEN 'no location'
                        WHEN NOT ST_Covers(d.geom, p.geom) THEN 'outside the sub-district'
                        ELSE 'in no sector (a gap in the coverage)' END AS reason, count(*)
            FROM {table} p, units d
            WHERE d.level = 'district' AND d.valid_to IS NULL AND p.sector_code IS NULL
            GROUP BY 1""")
        ).all()
        unattached[table] = {reason: n for reason, n in reasons}
    yards = (
        conn.execute(
            text(
                "SELECT code FROM courtyards WHERE valid_to IS NULL "
                "AND sector_code IS NULL ORDER BY code"
            )
        )
        .scalars()
        .all()
    )
    unassigned = conn.execute(
        text("""
        SELECT kind, array_agg(id ORDER BY id) FROM resources
        WHERE retired_at IS NULL AND (serves_code IS NULL AND sector_code IS NULL
           OR kind IN ('grid_worker', 'stationed_officer') AND serves_code IS NULL)
        GROUP BY kind ORDER BY kind""")
    ).all()
    return {
        "sector_coverage_pct": round(float(share), 6),
        "unattached_points": unattached,
        "courtyards_without_grid": list(yards),
        "resources_unassigned": {kind: list(ids) for kind, ids in unassigned},
    }


def _flat(report: CoverageReport) -> pd.DataFrame:
    frame = pd.DataFrame(report.rows)
    frame["flags"] = frame["flags"].map(lambda fs: ";".join(f["flag"] for f in fs))
    categories = sorted({c for row in report.rows for c in row["incidents_by_category"]})
    for cat in categories:
        frame[f"incidents_{cat}"] = [
            row["incidents_by_category"].get(cat, {}).get("incidents", 0) for row in report.rows
        ]
    keys = [k for k, _, _ in METRICS] + [f"incidents_{c}" for c in categories] + ["flags"]
    return frame[keys]


#: rows above the header of the XLSX export: title, period, boundaries
XLSX_HEADING_ROWS = 3


def _xlsx(report: CoverageReport, frame: pd.DataFrame) -> bytes:
    """The workbook: its period in the first rows, flags in Chinese, columns wide enough to
    read, the header row frozen."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    flags_column = _headers(["flags"], {})[0]
    frame = frame.copy()
    frame[flags_column] = ["；".join(f["label_zh"] for f in row["flags"]) for row in report.rows]
    book = spreadsheet.workbook()
    sheet = book.active
    sheet.title = f"coverage_{report.level}"
    level_zh = {
        "sector": "网格片区",
        "grid2": "二级网格",
        "community": "社区",
        "subdistrict": "街道",
    }[report.level]
    boundaries = (
        f"边界版本 boundaries as of: {report.as_of.isoformat()}"
        if report.as_of
        else "边界版本 boundaries: 现行 current"
    )
    spreadsheet.append_safe(sheet, [f"覆盖情况 coverage · {level_zh} {report.level}"])
    spreadsheet.append_safe(
        sheet, [f"统计期间 period: {report.since} 至 {report.until} (北京时间 Beijing days)"]
    )
    spreadsheet.append_safe(sheet, [boundaries])
    sheet["A1"].font = Font(bold=True, size=13)
    spreadsheet.append_safe(sheet, list(frame.columns))
    for cell in sheet[XLSX_HEADING_ROWS + 1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE6F0")
    for values in frame.itertuples(index=False):
        spreadsheet.append_safe(sheet, values)
    sheet.freeze_panes = sheet.cell(row=XLSX_HEADING_ROWS + 2, column=3)
    for k, column in enumerate(frame.columns, start=1):
        longest = max([len(str(v)) for v in frame[column].tolist()] + [len(column) // 2 + 2])
        sheet.column_dimensions[get_column_letter(k)].width = min(max(longest + 2, 8), 48)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _headers(keys: list[str], category_names: dict[str, tuple[str, str]]) -> list[str]:
    labels = {**LABELS, "flags": ("预警", "flags")}
    for code, (zh, en) in category_names.items():
        labels[f"incidents_{code}"] = (f"{zh}事件", f"{en} incidents")
    return [f"{labels[k][0]} {labels[k][1]}" for k in keys]


def export(conn: Connection, report: CoverageReport, fmt: str) -> bytes:
    """The report as `csv` (UTF-8 with BOM, for Excel), `xlsx` or `gpkg` (units with their
    metrics as polygons). Headers are bilingual: `户数 households`. Spreadsheet cells are
    made safe against formula injection (`geo.core.spreadsheet`)."""
    frame = _flat(report)
    names = dict(
        (
            (c, (zh, en))
            for c, zh, en in conn.execute(
                text("SELECT code, name_zh, name_en FROM categories_in_force")
            ).all()
        )
    )
    if fmt == "gpkg":
        geoms = gpd.read_postgis(
            text(
                f"SELECT code, geom FROM {sources(report.as_of is not None)['units']} u "
                "WHERE level = :level"
            ),
            conn,
            params={
                "level": "district" if report.level == "subdistrict" else report.level,
                "at": report.as_of,
            },
            geom_col="geom",
        )
        gdf = gpd.GeoDataFrame(frame.merge(geoms, on="code"), geometry="geom", crs=4326)
        buffer = io.BytesIO()
        gdf.to_file(buffer, driver="GPKG", layer=f"coverage_{report.level}", engine="pyogrio")
        return buffer.getvalue()
    frame.columns = _headers(list(frame.columns), names)
    if fmt == "csv":
        return spreadsheet.to_csv(frame).encode("utf-8-sig")
    if fmt == "xlsx":
        return _xlsx(report, frame)
    raise InvalidInput(f"unknown format {fmt!r}; one of: json, csv, xlsx, gpkg")
