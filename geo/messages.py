"""Every label the web pages print, in Simplified Chinese and English: one table.

The vocabulary comes from where it is defined — levels, kinds and states from
`geo.terms` (`term.<value>`), roles from `geo.access` (`role.<role>`), coverage metrics and
flags from `geo.coverage` (`metric.<key>`, `flag.<key>`), the boundary rules from
`geo.planning.coverage` (`rule.<key>`) — and the pages' own wording is added here.
Chinese is the default language.

    >>> message("metric.households")
    '户数'
    >>> message("home.welcome", "en", name="Li")
    'Welcome, Li'
"""

from __future__ import annotations

from collections.abc import Callable

from geo.access import ROLE_LABELS
from geo.coverage import FLAGS, METRICS
from geo.evaluation import FIGURES as EVALUATION_FIGURES
from geo.evaluation import RATES as EVALUATION_RATES
from geo.planning.coverage import RULES
from geo.terms import LABELS

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

#: the pages' own wording: key → (中文, English); `{name}` fields are filled in by `message`
PAGES: dict[str, tuple[str, str]] = {
    "app.name": ("西北街街道网格化管理", "Xibeijie Sub-district Grid Management"),
    "lang.other": ("English", "中文"),
    # the switch speaks the language it switches to
    "lang.other_hint": ("Switch to English", "切换到中文"),
    "nav.home": ("首页", "Home"),
    "nav.coverage": ("覆盖情况", "Coverage"),
    "nav.signed_in_as": ("当前用户", "Signed in as"),
    "nav.logout": ("退出登录", "Sign out"),
    "login.title": ("登录", "Sign in"),
    "login.hint": (
        "请输入管理员发放的访问令牌。",
        "Enter the access token your administrator gave you.",
    ),
    "login.token": ("访问令牌", "Access token"),
    "login.submit": ("登录", "Sign in"),
    "login.bad_token": ("令牌无效或已吊销", "The token is unknown or revoked"),
    "home.title": ("首页", "Home"),
    "home.welcome": ("{name}，您好", "Welcome, {name}"),
    "home.summary": ("街道概况", "The sub-district at a glance"),
    "home.courtyards": ("小区楼院", "courtyards"),
    "home.cases_hidden": (
        "事件数不含您无权查看的重点人群事件。",
        "Case counts leave out the key-population cases your role may not see.",
    ),
    "home.as_of": ("统计时间 {time}（北京时间）", "As of {time} (Beijing time)"),
    "home.data_version": (
        "数据版本 {version}，最近更新 {time}",
        "Data version {version}, last changed {time}",
    ),
    "home.data_never_changed": ("数据版本 {version}", "Data version {version}"),
    "home.own": ("我的网格", "My grids"),
    "home.own_cases": (
        "我负责的未结事件 {open} 件，其中超期 {overdue} 件",
        "{open} open cases are yours, {overdue} of them overdue",
    ),
    "home.maps": ("地图", "Maps"),
    "home.data": ("数据与统计", "Data and statistics"),
    "home.planning": ("网格规划", "Grid planning"),
    "home.downloads": ("下载覆盖情况表", "Download the coverage table"),
    "home.level": ("层级", "Level"),
    "maps.incidents": ("事件热力图", "Incident heat map"),
    "maps.incidents.desc": (
        "按类别、状态和时间查看事件分布",
        "Where incidents happen, by category, status and time",
    ),
    "maps.hotspots": ("热点分析", "Hotspots"),
    "maps.hotspots.desc": (
        "统计显著的事件热点与冷点（Gi*）",
        "Statistically significant hot and cold spots (Gi*)",
    ),
    "maps.coverage": ("覆盖情况地图", "Coverage map"),
    "maps.coverage.desc": (
        "在地图上查看每个网格的指标与预警",
        "Each grid's metrics and flags on the map",
    ),
    "coverage.table": ("覆盖情况表", "Coverage table"),
    "coverage.table.desc": (
        "每个单元的户数、力量配备与事件办理，可排序、筛选",
        "Households, staffing and cases per unit; sort and filter",
    ),
    "editor": ("网格编辑器", "Grid editor"),
    "editor.desc": (
        "调整网格边界，预览影响后提交",
        "Redraw grid boundaries, preview the effect, apply",
    ),
    "gis": ("GIS 数据服务", "GIS data service"),
    "gis.desc": (
        "OGC API – Features，供 QGIS、GDAL 读取图层",
        "OGC API – Features: the layers for QGIS and GDAL",
    ),
    "format.csv": ("CSV 表格", "CSV"),
    "format.xlsx": ("Excel 工作簿", "Excel workbook"),
    "format.gpkg": ("GeoPackage 图层", "GeoPackage layer"),
    "coverage.title": ("覆盖情况", "Coverage"),
    "coverage.intro": (
        "每行一个单元：户数、商户、力量配备、党组织和事件办理情况，以及各项预警。",
        "One row per unit: households, businesses, staffing, party organisations, cases and flags.",
    ),
    "coverage.period": (
        "事件统计期间：{since} 至 {until}",
        "Incidents observed from {since} to {until}",
    ),
    "coverage.target": (
        "网格员负荷目标：每人 {target} 户；超期事件上限：{limit} 件",
        "Target: {target} households per grid worker; overdue cases limit: {limit}",
    ),
    "coverage.unit": ("单元", "Unit"),
    "coverage.flags": ("预警", "Flags"),
    "coverage.filter": ("筛选", "Filter"),
    "coverage.filter_placeholder": ("名称或编码", "name or code"),
    "coverage.flag_filter": ("预警", "Flags"),
    "coverage.flag_all": ("全部单元", "all units"),
    "coverage.flag_any": ("有任一预警", "any flag"),
    "coverage.flag_none": ("无预警", "no flag"),
    "coverage.all_columns": ("显示全部指标", "Show every metric"),
    "coverage.shown": ("显示 {shown} / {total} 个单元", "{shown} of {total} units shown"),
    "coverage.sort_hint": ("点击表头排序", "Click a column heading to sort"),
    "coverage.on_map": ("在覆盖情况地图上查看", "Show on the coverage map"),
    "coverage.download": ("下载", "Download"),
    "coverage.none": ("无", "none"),
    # the grid editor (/maps/planner); static/web/editor.js fills the {fields}
    "editor.loading": ("正在加载网格……", "Loading the grid…"),
    "editor.map": ("网格地图", "Grid map"),
    "editor.panel": ("编辑面板", "Editing panel"),
    "editor.select": ("片区", "Sector"),
    "editor.select_none": ("（请选择片区）", "(choose a sector)"),
    "editor.select_hint": (
        "在地图上点击片区，或从列表中选择。",
        "Click a sector on the map, or choose it from the list.",
    ),
    "editor.code": ("编码", "Code"),
    "editor.grid2": ("所属二级网格", "Level-2 grid"),
    "editor.version": ("版本", "Version"),
    "editor.version_value": ("第 {version} 版（{time}）", "version {version} ({time})"),
    "editor.households": ("户数", "Households"),
    "editor.workers": ("网格员", "Grid workers"),
    "editor.per_worker": ("每名网格员户数", "Households per worker"),
    "editor.target": (
        "目标：每名网格员 {target} 户（±{band}%）",
        "Target: {target} households per grid worker (±{band} %)",
    ),
    "editor.drag_hint": (
        "拖动白色顶点即可调整边界。与相邻片区共用的顶点会同时移动，不会留下缝隙或重叠。",
        "Drag a white vertex to move the border. A vertex shared with neighbouring sectors "
        "moves in all of them, so no gap or overlap opens.",
    ),
    "editor.shared": (
        "{shared} 个顶点与相邻片区共用",
        "{shared} vertices are shared with neighbouring sectors",
    ),
    "editor.edited": ("已修改：{units}", "Edited: {units}"),
    "editor.on_conflict": ("相邻片区", "Other neighbours"),
    "editor.on_conflict.adjust": ("自动调整", "adjust them"),
    "editor.on_conflict.refuse": ("出现缝隙或重叠时拒绝", "refuse gaps and overlaps"),
    "editor.discard": ("放弃修改", "Discard changes"),
    "editor.tools": ("工具", "Tools"),
    "editor.split": ("沿线拆分", "Split along a line"),
    "editor.split_draw": ("画分割线", "Draw the line"),
    "editor.split_hint": (
        "在地图上画一条横穿片区的线，点击最后一个点结束。",
        "Draw a line across the sector; click its last point to finish.",
    ),
    "editor.split_name": ("新片区名称（可选）", "Name of the new sector (optional)"),
    "editor.merge": ("合并相邻片区", "Merge an adjacent sector"),
    "editor.merge_with": ("并入本片区", "Merge into this sector"),
    "editor.reassign": ("改属其他二级网格", "Move to another level-2 grid"),
    "editor.reassign_to": ("目标二级网格", "Level-2 grid"),
    "editor.choose": ("（请选择）", "(choose)"),
    "editor.preview_button": ("预览", "Preview"),
    "editor.preview": ("影响预览", "Preview of the effect"),
    "editor.preview_reason": ("预览", "preview"),
    "editor.preview_none": (
        "调整边界或使用工具后，这里显示对各网格的影响。",
        "Move a border or use a tool: its effect on each grid appears here.",
    ),
    "editor.preview_waiting": ("正在计算预览……", "Computing the preview…"),
    "editor.preview_valid": ("校验通过，可以提交。", "Valid: ready to apply."),
    "editor.preview_invalid": (
        "不能提交：{count} 个问题（已在地图上标出）。",
        "Cannot apply: {count} problem(s), marked on the map.",
    ),
    "editor.moves": ("移动情况", "What moves"),
    "editor.moves_none": ("没有对象改变所属片区。", "Nothing changes sector."),
    "editor.moves_kind": ("类别", "Kind"),
    "editor.moves_from": ("从", "From"),
    "editor.moves_to": ("到", "To"),
    "editor.moves_count": ("数量", "Count"),
    "editor.kind.households": ("住户", "households"),
    "editor.kind.businesses": ("单位门店", "businesses"),
    "editor.kind.resources": ("治理力量", "resources"),
    "editor.kind.incidents": ("事件", "incidents"),
    "editor.kind.courtyards": ("小区楼院", "courtyards"),
    "editor.redispatched": (
        "{count} 件未结事件将改派",
        "{count} open incidents would be re-dispatched",
    ),
    "editor.load": ("网格负荷", "Load"),
    "editor.load_sectors": ("片区", "Sectors"),
    "editor.load_grids": ("二级网格", "Level-2 grids"),
    "editor.load_unit": ("单元", "Unit"),
    "editor.load_households": ("户数 前→后", "Households before → after"),
    "editor.load_workers": ("网格员", "Workers"),
    "editor.load_per_worker": ("人均户数 前→后", "Per worker before → after"),
    "editor.load_within": ("达标", "on target"),
    "editor.load_over": ("偏高", "over"),
    "editor.load_under": ("偏低", "under"),
    "editor.load_no_worker": ("无网格员", "no worker"),
    "editor.problems": ("校验问题", "Problems"),
    "editor.problem_units": ("涉及：{units}", "Units: {units}"),
    "editor.problem_area": ("面积 {area} 平方米", "{area} m²"),
    "editor.problem_detail": ("详细说明（英文）", "Details"),
    "editor.reason": ("调整原因（必填）", "Reason (required)"),
    "editor.reason_placeholder": ("例如：新建小区划入", "e.g. a new courtyard joins the sector"),
    "editor.reason_missing": ("请先填写调整原因。", "Enter a reason first."),
    "editor.apply": ("提交", "Apply"),
    "editor.applying": ("正在提交……", "Applying…"),
    "editor.applied": ("已提交，变更编号 #{id}。", "Applied as change #{id}."),
    "editor.applied_map": ("查看此次变更的地图", "Map of this change"),
    "editor.conflict": (
        "其他人在您打开后修改了 {units}，本次未写入任何内容。请重新加载，在最新版本上再次修改。",
        "Someone else changed {units} since you opened it; nothing was written. Reload and "
        "redo your edit on the current version.",
    ),
    "editor.reload": ("重新加载", "Reload"),
    "editor.refused": ("提交被拒绝：{detail}", "Refused: {detail}"),
    "editor.failed": ("出错了（{status}）：{detail}", "Something went wrong ({status}): {detail}"),
    "editor.history": ("历史版本", "History"),
    "editor.history_version": ("第 {version} 版", "Version {version}"),
    "editor.history_current": ("现行", "current"),
    "editor.history_show": ("在地图上显示", "Show on the map"),
    "editor.history_rollback": ("恢复为此版本", "Restore this version"),
    "editor.history_by": ("{who}，原因：{reason}", "{who}: {reason}"),
    "editor.asof": ("历史图层", "The grid as it was"),
    "editor.asof_now": ("现在", "now"),
    "editor.asof_viewing": (
        "正在查看 {time} 的网格（只读）。",
        "Viewing the grid as of {time} (read only).",
    ),
    "editor.asof_back": ("回到现在", "Back to now"),
    "editor.legend_selected": ("当前片区", "selected sector"),
    "editor.legend_result": ("预览结果", "preview result"),
    "editor.legend_problem": ("问题位置", "problem"),
    "editor.legend_community": ("社区边界", "community border"),
    "editor.no_basemap": (
        "底图为 GCJ-02 坐标，编辑器不叠加底图，以免边界错位。",
        "The basemap is in GCJ-02; the editor draws without it so borders stay true.",
    ),
    "editor.change.initial_load": ("初始导入", "initial load"),
    "editor.change.move_border": ("调整边界", "border moved"),
    "editor.change.reassign": ("改属网格", "reassigned"),
    "editor.change.split": ("拆分", "split"),
    "editor.change.merge": ("合并", "merged"),
    "editor.change.rollback": ("恢复版本", "rolled back"),
    "editor.change.rollback_layer": ("恢复图层", "layer rolled back"),
    "editor.change.rebalance": ("负载均衡", "rebalanced"),
    "editor.change.import_sector": ("导入片区", "sectors imported"),
    "editor.change.import_grid2": ("导入二级网格", "level-2 grids imported"),
    "editor.change.import_community": ("导入社区", "communities imported"),
    "editor.change.import_courtyard": ("导入小区楼院", "courtyards imported"),
    # Leaflet-Geoman's drawing hints while the split line is drawn
    "editor.draw.firstVertex": ("点击放置第一个点", "Click to place the first point"),
    "editor.draw.continueLine": ("点击继续画线", "Click to continue the line"),
    "editor.draw.finishLine": ("点击最后一个点结束", "Click the last point to finish"),
    "error.403": ("无权访问", "Not allowed"),
    "error.403.text": (
        "您的角色（{role}）无权查看此页面。",
        "Your role ({role}) may not see this page.",
    ),
    "error.404": ("页面不存在", "Page not found"),
    "error.404.text": (
        "此页面尚未开放，或地址有误。",
        "This page does not exist yet, or the address is wrong.",
    ),
    "error.back": ("返回首页", "Back to the home page"),
}

#: the evaluation page and the monthly report (issue 20)
EVALUATION_PAGES: dict[str, tuple[str, str]] = {
    "eval.title": ("考核评价", "Evaluation"),
    "eval.table": ("考核评价", "Evaluation"),
    "eval.table.desc": (
        "立案、结案、按期结案、返工、延期等考核指标，按社区、网格、网格员和类别评级排名",
        "Cases filed, closed, closed in time, sent back and extended: graded and ranked per "
        "community, grid, worker and category",
    ),
    "eval.intro": (
        "按北京时间统计所选期间内发生的案件；点击名称逐级查看：社区 → 二级网格 → 片区 → 案件。",
        "Cases observed on the Beijing days of the period; click a name to drill down: "
        "community → level-2 grid → sector → its cases.",
    ),
    "eval.period": ("统计期间", "Period"),
    "eval.preset.this_month": ("本月", "This month"),
    "eval.preset.last_month": ("上月", "Last month"),
    "eval.preset.quarter": ("本季度", "This quarter"),
    "eval.preset.custom": ("自定义", "Custom"),
    "eval.since": ("开始日期", "From"),
    "eval.until": ("结束日期", "To"),
    "eval.apply": ("查询", "Show"),
    "eval.level": ("统计层级", "Level"),
    "eval.level.community": ("社区", "Communities"),
    "eval.level.grid2": ("二级网格", "Level-2 grids"),
    "eval.level.sector": ("网格片区", "Sectors"),
    "eval.level.worker": ("网格员", "Grid workers"),
    "eval.level.category": ("事件类别", "Categories"),
    "eval.all": ("全街道", "Whole sub-district"),
    "eval.unit": ("名称", "Name"),
    "eval.filed": ("立案数", "Filed"),
    "eval.median": ("结案时长中位数(小时)", "Median hours to close"),
    "eval.p90": ("结案时长P90(小时)", "90th percentile hours"),
    "eval.score": ("综合得分", "Score"),
    "eval.grade": ("等级", "Grade"),
    "eval.rank": ("排名", "Rank"),
    "eval.small_sample": ("样本不足", "small sample"),
    "eval.sort_hint": ("点击表头排序", "Click a column heading to sort"),
    "eval.loading": ("加载中…", "Loading…"),
    "eval.error": ("加载失败", "Could not load"),
    "eval.cases": ("片区案件", "Cases of the sector"),
    "eval.case.id": ("编号", "Case"),
    "eval.case.category": ("类别", "Category"),
    "eval.case.status": ("状态", "State"),
    "eval.case.observed": ("发生时间", "Observed"),
    "eval.case.fate": ("情况", "Fate"),
    "eval.case.sent_back": ("返工", "sent back"),
    "eval.case.extended": ("延期", "extended"),
    "eval.case.late": ("超期结案", "closed late"),
    "eval.case.in_time": ("按期结案", "closed in time"),
    "eval.no_cases": ("本期间无案件", "No cases in this period"),
    "eval.chart.trend": ("案件数量趋势(按类别)", "Cases by category"),
    "eval.chart.in_time": ("按期结案率趋势(%)", "Closed in time over time (%)"),
    "eval.chart.rank": ("综合得分排名", "Ranking by score"),
    "eval.every.day": ("按日", "per day"),
    "eval.every.week": ("按周", "per week"),
    "eval.every.month": ("按月", "per month"),
    "eval.formula": (
        "综合得分 = 各项比率按权重加权平均(延期率、返工率以 1 − 比率计入)；A ≥ {a}，B ≥ {b}，"
        "C ≥ {c}，其余为 D；立案数少于 {n} 的单元标为样本不足，不参与排名。",
        "Score = the weighted mean of the rates (extended and sent back enter as 1 − rate); "
        "A ≥ {a}, B ≥ {b}, C ≥ {c}, else D; units with fewer than {n} filed cases are marked "
        "small sample and not ranked.",
    ),
    "eval.report": ("月度分析报告", "Monthly report"),
    "report.title": ("{month}月度分析报告", "Monthly report, {month}"),
    "report.period": (
        "统计期间：{since} 至 {until}(北京时间)· 数据版本 {version} · 生成于 {at}",
        "Period: {since} to {until} (Beijing time) · data version {version} · made {at}",
    ),
    "report.empty": ("本月无案件。", "There were no cases this month."),
    "report.headline": ("主要指标", "Headline figures"),
    "report.indicator": ("指标", "Indicator"),
    "report.current": ("本月", "This month"),
    "report.previous": ("上月", "Month before"),
    "report.year_before": ("去年同期", "A year before"),
    "report.change": ("环比", "vs month before"),
    "report.change_year": ("同比", "vs a year before"),
    "report.categories": ("主要事件类别", "Top categories"),
    "report.hotspots": ("热点区域(Gi*)", "Hotspots (Gi*)"),
    "report.hotspots_none": ("本月无显著热点。", "No significant hotspot this month."),
    "report.hotspot_cells": (
        "99% 置信热点 {hot99} 个网格单元，95% 置信 {hot95} 个。",
        "{hot99} cells hot at 99 % confidence, {hot95} at 95 %.",
    ),
    "report.confidence": ("置信度", "Confidence"),
    "report.count": ("事件数", "Cases"),
    "report.sector": ("片区", "Sector"),
    "report.grids": ("二级网格评级", "Level-2 grids graded"),
    "report.workers": ("网格员评级", "Grid workers graded"),
    "report.flags": ("覆盖预警", "Coverage flags"),
    "report.flags_none": ("无覆盖预警。", "No coverage flag."),
    "report.download": ("下载", "Download"),
    "report.print": ("打印", "Print"),
    "format.pdf": ("PDF", "PDF"),
    "coverage.period_form": ("统计期间", "Period"),
}

#: every label, both languages: the vocabulary of the domain modules and the pages' wording
MESSAGES: dict[str, tuple[str, str]] = {
    **{f"term.{value}": pair for value, pair in LABELS.items()},
    **{f"role.{role.value}": pair for role, pair in ROLE_LABELS.items()},
    **{f"metric.{key}": (zh, en) for key, zh, en in METRICS},
    **{f"flag.{key}": (zh, en) for key, (zh, en, _metric) in FLAGS.items()},
    **{f"rule.{key}": pair for key, pair in RULES.items()},
    **PAGES,
    **EVALUATION_PAGES,
    **{f"rate.{key}": (zh, en) for key, (_n, _d, zh, en) in EVALUATION_RATES.items()},
    **{f"figure.{key}": pair for key, pair in EVALUATION_FIGURES.items()},
}


def message(key: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """The label `key` in `lang` (`zh` or `en`), its `{fields}` filled from `values`.
    An unknown key is a KeyError: a page must never print a label missing from the table."""
    zh, en = MESSAGES[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    """`message` bound to one language, as the pages' `t("key", name=...)`."""

    def t(key: str, **values) -> str:
        return message(key, lang, **values)

    return t


def messages_for(lang: str, *prefixes: str) -> dict[str, str]:
    """Every label whose key starts with one of `prefixes`, in `lang`, with its `{fields}`
    left for the page's script to fill: key → text."""
    return {key: message(key, lang) for key in MESSAGES if key.startswith(prefixes)}
