"""Every label the web pages print, in Simplified Chinese and English: one table.

The vocabulary comes from where it is defined — levels, kinds and states from
`geo.terms` (`term.<value>`), roles from `geo.access` (`role.<role>`), coverage metrics and
flags from `geo.coverage` (`metric.<key>`, `flag.<key>`) — and the pages' own wording is
added here. Chinese is the default language.

    >>> message("metric.households")
    '户数'
    >>> message("home.welcome", "en", name="Li")
    'Welcome, Li'
"""

from __future__ import annotations

from collections.abc import Callable

from geo.access import ROLE_LABELS
from geo.coverage import FLAGS, METRICS
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

#: every label, both languages: the vocabulary of the domain modules and the pages' wording
MESSAGES: dict[str, tuple[str, str]] = {
    **{f"term.{value}": pair for value, pair in LABELS.items()},
    **{f"role.{role.value}": pair for role, pair in ROLE_LABELS.items()},
    **{f"metric.{key}": (zh, en) for key, zh, en in METRICS},
    **{f"flag.{key}": (zh, en) for key, (zh, en, _metric) in FLAGS.items()},
    **PAGES,
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
