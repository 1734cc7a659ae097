"""Every label the web pages print, in Simplified Chinese and English: one table.

The vocabulary comes from where it is defined — levels, kinds and states from
`geo.core.terms` (`term.<value>`), roles from `geo.access.roles` (`role.<role>`), coverage
metrics and flags from `geo.insight.coverage` (`metric.<key>`, `flag.<key>`), the boundary
rules from `geo.planning.tiling` (`rule.<key>`) — and the pages' own wording is added here.
Chinese is the default language.

    >>> message("metric.households")
    '户数'
    >>> message("home.welcome", "en", name="Li")
    'Welcome, Li'
"""

from __future__ import annotations

from collections.abc import Callable

from geo.access.roles import ROLE_LABELS
from geo.core.terms import LABELS
from geo.insight.coverage import FLAGS, METRICS
from geo.insight.evaluation import FIGURES as EVALUATION_FIGURES
from geo.insight.evaluation import RATES as EVALUATION_RATES
from geo.people.staff import STAFF_LABELS
from geo.planning.tiling import RULES

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
        "请输入登录名（通常为手机号）和密码。",
        "Enter your login name (usually your mobile number) and password.",
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
    # the admin's screens: people and organisations, incident categories (geo.people.staff)
    "home.admin": ("系统管理", "Administration"),
    "admin.people": ("人员与组织", "People and organisations"),
    "admin.people.desc": (
        "网格员、驻点政法干警、网格党支部、共驻共建单位：新增、编辑、分配网格、退出",
        "Grid workers, stationed officers, party branches, co-building units: add, edit, "
        "assign, retire",
    ),
    "admin.categories": ("事件类别", "Incident categories"),
    "admin.categories.desc": (
        "新增类别、改名、设置处置时限、停用",
        "Add, rename, set time limits, retire",
    ),
    "admin.people.intro": (
        "退出的人员和组织不再接收派遣、不计入覆盖统计，但历史记录仍保留。",
        "Retired records get no more cases and leave the coverage counts; the history keeps them.",
    ),
    "admin.add": ("新增", "Add"),
    "admin.add_kind": ("新增{kind}", "Add to {kind}"),
    "admin.field.id": ("编号（留空自动生成）", "Id (empty: the next one)"),
    "admin.field.name_zh": ("名称（中文）", "Name (Chinese)"),
    "admin.field.name_en": ("英文名称", "Name (English)"),
    "admin.field.phone": ("电话", "Phone"),
    "admin.field.branch_type": ("支部类型", "Branch type"),
    "admin.field.serves_code": ("服务网格", "Serves"),
    "admin.serves_none": ("— 未分配 —", "— none —"),
    "admin.active": ("在岗（{count}）", "Active ({count})"),
    "admin.retired": ("已退出（{count}）", "Retired ({count})"),
    "admin.retired_at": ("{time} 退出", "retired {time}"),
    "admin.edit": ("编辑", "Edit"),
    "admin.save": ("保存", "Save"),
    "admin.assign": ("分配网格", "Assign"),
    "admin.retire": ("退出", "Retire"),
    "admin.retire_reason": ("退出原因（可选）", "Reason (optional)"),
    "admin.retire_confirm": (
        "确定让 {name} 退出吗？历史记录会保留。",
        "Retire {name}? The history keeps them.",
    ),
    "admin.none": ("暂无", "None"),
    "admin.unassigned": ("未分配网格", "not assigned"),
    "admin.sectors": ("各片区服务人员", "Who serves each sector"),
    "admin.sector": ("片区", "Sector"),
    "admin.sector_workers": ("本片区网格员", "Its grid workers"),
    "admin.sector_fallback": (
        "事件派至所在二级网格的网格员：{team}",
        "its cases go to its level-2 grid's workers: {team}",
    ),
    "admin.sector_nobody": ("事件无人可派", "its cases reach nobody"),
    "admin.sectors_hint": (
        "片区没有自己的网格员时，事件派给所在二级网格的网格员。",
        "A sector with no worker of its own has its cases dispatched to its level-2 grid's "
        "workers.",
    ),
    "admin.filter": ("筛选", "Filter"),
    "admin.filter_placeholder": ("姓名、编号或网格", "name, id or grid"),
    "admin.filter_placeholder_categories": ("名称或代码", "name or code"),
    "admin.sector_others": ("驻点干警、党支部、共建单位", "Officers, branches and units"),
    "admin.saved": ("已保存。", "Saved."),
    "admin.working": ("正在保存……", "Saving…"),
    "admin.refused": ("未保存：{detail}", "Not saved: {detail}"),
    "admin.failed": ("出错了（{status}），未保存。", "Something went wrong ({status}); not saved."),
    "admin.categories.intro": (
        "新时限只对之后上报的事件生效。停用的类别不能再上报；仍有未办结事件的类别不能停用。",
        "New limits apply to cases reported from now on. A retired category can no longer be "
        "reported; one still used by open cases cannot be retired.",
    ),
    "admin.field.code": (
        "类别代码（小写字母、数字、下划线）",
        "Code (lower-case letters, digits, _)",
    ),
    "admin.field.dispatch_minutes": ("派遣时限（分钟）", "Dispatch within (minutes)"),
    "admin.field.close_minutes": ("办结时限（分钟）", "Close within (minutes)"),
    "admin.field.close_working_days": ("或：办结时限（工作日）", "or: close within (working days)"),
    "admin.field.urgent": ("紧急", "urgent"),
    "admin.field.sensitive": (
        "敏感（仅管理员和本网格网格员可见）",
        "sensitive (admins and the grid's own workers only)",
    ),
    "admin.close_hint": (
        "办结时限二选一：分钟或工作日。",
        "Give one closing limit: minutes or working days.",
    ),
    "admin.minutes": ("{n} 分钟", "{n} min"),
    "admin.working_days": ("{n} 个工作日", "{n} working day(s)"),
    "admin.limit_text": (
        "派遣 {dispatch}，办结 {close}",
        "dispatch within {dispatch}, close within {close}",
    ),
    "admin.badge.urgent": ("紧急", "urgent"),
    "admin.badge.sensitive": ("敏感", "sensitive"),
    "admin.retire_category": ("停用", "Retire"),
    "admin.retire_category_confirm": ("确定停用类别“{name}”吗？", "Retire the category {name}?"),
    "admin.categories_retired": ("已停用（{count}）", "Retired ({count})"),
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
    # accounts and sessions (issue 17)
    "login.username": ("登录名", "Login name"),
    "login.password": ("密码", "Password"),
    "login.bad_password": ("登录名或密码不正确", "Wrong login name or password"),
    "login.throttled": (
        "失败次数过多，请 {seconds} 秒后再试。",
        "Too many failed attempts; try again in {seconds} s.",
    ),
    "login.cross_site": ("请从本站登录页登录", "Sign in from this site's own sign-in page"),
    "login.forgot": (
        "忘记密码？请联系管理员重置。",
        "Forgot your password? Ask an administrator to reset it.",
    ),
    "nav.account": ("我的账户", "My account"),
    "account.title": ("我的账户", "My account"),
    "account.must_change": (
        "您正在使用一次性密码，请先设置新密码。",
        "You signed in with a one-time password: choose a new password first.",
    ),
    "account.password": ("修改密码", "Change password"),
    "account.policy": (
        "至少 {length} 位，字母与数字或符号混合，不含登录名。",
        "At least {length} characters, letters mixed with digits or signs, not your login name.",
    ),
    "account.current": ("当前密码", "Current password"),
    "account.new": ("新密码", "New password"),
    "account.again": ("再次输入新密码", "New password again"),
    "account.change": ("修改密码", "Change password"),
    "account.tokens": ("程序访问令牌", "Access tokens for programs"),
    "account.tokens_hint": (
        "供 QGIS、GDAL 等程序使用：作为 Bearer 令牌，或作为 Basic 认证的密码（用户名任意）。",
        "For QGIS, GDAL and other programs: as a Bearer token, or as the password of Basic "
        "authentication (any user name).",
    ),
    "account.token_once": (
        "令牌「{name}」只显示这一次，请立即复制保存：",
        'The token "{name}" is shown only this once; copy it now:',
    ),
    "account.token_name": ("名称", "Name"),
    "account.token_days": ("有效天数（最多 {max} 天）", "Valid for days (at most {max})"),
    "account.token_roles": ("角色", "Roles"),
    "account.token_create": ("创建令牌", "Create token"),
    "account.token_expires": ("到期", "Expires"),
    "account.token_used": ("最近使用", "Last used"),
    "account.token_revoke": ("吊销", "Revoke"),
    "account.token_revoked": ("已失效", "No longer valid"),
    "users.title": ("用户管理", "Users"),
    "users.title.desc": (
        "创建账户、重置密码、停用账户",
        "Create accounts, reset passwords, disable accounts",
    ),
    "users.new": ("新建用户", "New user"),
    "users.login": ("登录名", "Login name"),
    "users.display_name": ("姓名", "Name"),
    "users.roles": ("角色", "Roles"),
    "users.worker": ("对应网格员（网格员必选）", "Grid worker record (for grid workers)"),
    "users.grid": ("或负责的网格编码", "Or the grid code they serve"),
    "users.create": ("创建并生成一次性密码", "Create with a one-time password"),
    "users.list": ("全部用户", "All users"),
    "users.state": ("状态", "State"),
    "users.active": ("正常", "Active"),
    "users.disabled": ("已停用", "Disabled"),
    "users.must_change": ("待首次登录", "First sign-in pending"),
    "users.reset": ("重置密码", "Reset password"),
    "users.disable": ("停用", "Disable"),
    "users.secret_once": (
        "{login} 的一次性密码只显示这一次，请当面或电话告知本人：",
        "The one-time password of {login} is shown only this once; hand it over in person "
        "or by phone:",
    ),
    "error.back": ("返回首页", "Back to the home page"),
}

#: the case desk's wording (issue 18): report, my cases, one case, the command centre
CASE_DESK_PAGES: dict[str, tuple[str, str]] = {
    "home.cases": ("事件办理", "Cases"),
    "cases.nav": ("我的事件", "My cases"),
    "cases.nav.desc": (
        "分派给我或我网格的事件，超期在前",
        "Cases assigned to me or my grids, overdue first",
    ),
    "cases.report_nav.desc": ("定位、拍照、上报问题", "Locate, photograph and report a problem"),
    "cases.desk_nav.desc": (
        "派遣、核查、审批延期和回退",
        "Dispatch, verify, decide extensions and returns",
    ),
    "cases.report_nav": ("上报事件", "Report a case"),
    "cases.desk_nav": ("指挥中心", "Command centre"),
    "cases.open_link": ("{open} 件未结事件", "{open} open cases"),
    "cases.title": ("我的事件", "My cases"),
    "cases.intro": (
        "分派给我或我的网格的事件：超期在前，其余按剩余时间排序。",
        "Cases assigned to me or to my grids: overdue first, then by time left.",
    ),
    "cases.filter.open": ("未结", "Open"),
    "cases.filter.overdue": ("超期", "Overdue"),
    "cases.filter.closed": ("已结", "Closed"),
    "cases.filter.all": ("全部", "All"),
    "cases.none": ("没有符合条件的事件。", "No cases match."),
    "cases.overdue_by": ("已超期 {time}", "overdue by {time}"),
    "cases.left": ("剩余 {time}", "{time} left"),
    "cases.due": ("办结期限", "Due"),
    "cases.limit": ("时限", "Time limit"),
    "cases.limit.days": ("{n} 个工作日", "{n} working days"),
    "cases.limit.minutes": ("{n} 分钟", "{n} min"),
    "cases.owner": ("责任人", "Owner"),
    "cases.team": ("处置网格员", "Team"),
    "cases.sector": ("网格片区", "Sector"),
    "cases.category": ("事件类别", "Category"),
    "cases.state": ("状态", "State"),
    "cases.reported_at": ("上报时间", "Reported"),
    "cases.pending": ("待审批申请", "Pending request"),
    "cases.new.title": ("上报事件", "Report a case"),
    "cases.new.where": ("位置", "Location"),
    "cases.new.gps": ("使用手机定位", "Use my location"),
    "cases.new.gps_accuracy": ("定位精度约 {m} 米", "accurate to about {m} m"),
    "cases.new.gps_failed": ("无法定位，请在地图上点选位置。", "No location; tap the map instead."),
    "cases.new.tap_hint": ("在地图上点选事件位置。", "Tap the map where it is."),
    "cases.new.no_place": ("请先选择位置。", "Choose the location first."),
    "cases.new.description": ("情况描述", "Description"),
    "cases.new.photos": ("现场照片（最多 6 张）", "Photos (up to 6)"),
    "cases.new.too_many_photos": ("最多 6 张照片。", "At most 6 photos."),
    "cases.new.submit": ("提交上报", "Submit"),
    "cases.new.sending": ("正在提交…", "Sending…"),
    "cases.new.check": ("查看附近同类事件", "Check for the same case nearby"),
    "cases.new.duplicates": ("附近已有的同类未结事件", "Open cases of this kind nearby"),
    "cases.new.no_duplicates": ("附近没有同类未结事件。", "No open case of this kind nearby."),
    "cases.new.same": ("是同一件事", "This is the same"),
    "cases.new.same_note": ("现场再次上报同一问题", "Reported again on site"),
    "cases.new.outside": (
        "该位置在街道范围外约 {m} 米，请在地图上重新选择。",
        "This place is about {m} m outside the sub-district; choose it again on the map.",
    ),
    "cases.new.failed": ("提交失败：{reason}", "Not sent: {reason}"),
    "cases.new.photo_failed": ("照片上传失败：{reason}", "A photo was not uploaded: {reason}"),
    "cases.new.distance": ("{m} 米", "{m} m"),
    "case.title": ("事件 {id}", "Case {id}"),
    "case.map": ("位置", "Location"),
    "case.photos": ("照片", "Photos"),
    "case.no_photos": ("暂无照片。", "No photos yet."),
    "case.stage.report": ("上报", "report"),
    "case.stage.before": ("处置前", "before"),
    "case.stage.after": ("处置后", "after"),
    "case.history": ("处置记录", "History"),
    "case.deadlines": ("期限", "Deadlines"),
    "case.dispatch_due": ("派遣期限", "Dispatch by"),
    "case.actions": ("可执行的操作", "What you may do"),
    "case.no_actions": (
        "您对此事件没有可执行的操作。",
        "There is nothing you may do on this case.",
    ),
    "case.note": ("说明（退回、驳回、拒绝时必填）", "Note (required to send back, reject, refuse)"),
    "case.add_note": ("添加备注", "Add a note"),
    "case.add_photo": ("添加照片", "Add a photo"),
    "case.file.choose": ("选择照片", "Choose a photo"),
    "case.file.none": ("未选择照片", "No photo chosen"),
    "case.file.chosen": ("已选择 {n} 张照片", "{n} photos chosen"),
    "case.after_photo": ("处置后照片", "After photo"),
    "case.duplicate_of": ("重复于事件编号", "Duplicate of case"),
    "case.assign": ("指派责任人", "Assign one owner"),
    "case.assign_submit": ("指派", "Assign"),
    "case.ask_extension": ("申请延期", "Ask for an extension"),
    "case.extension_days": ("延期工作日数", "Extra working days"),
    "case.ask_return": ("申请回退", "Ask to hand it back"),
    "case.reason": ("理由", "Reason"),
    "case.approve": ("批准", "Approve"),
    "case.refuse": ("不批准", "Refuse"),
    "case.request.extension": ("延期申请", "extension request"),
    "case.request.return": ("回退申请", "return request"),
    "case.request.days": ("{days} 个工作日", "{days} working days"),
    "case.stale": (
        "该事件已被他人处理，页面已刷新为最新状态。",
        "Someone else moved this case on; the page now shows it as it is.",
    ),
    "case.failed": ("操作未完成：{reason}", "Not done: {reason}"),
    "case.done": ("已完成。", "Done."),
    "case.move.dispatched": ("派遣", "Dispatch"),
    "case.move.in_progress": ("接单处置", "Accept"),
    "case.move.resolved": ("办结反馈", "Resolve"),
    "case.move.verified": ("核查结案", "Verify and close"),
    "case.move.rejected": ("不予受理", "Reject"),
    "case.move.duplicate": ("标记重复", "Mark duplicate"),
    "case.move.send_back": ("退回重办", "Send back"),
    "case.event.report": ("上报", "reported"),
    "case.event.dispatch": ("派遣", "dispatched"),
    "case.event.transition": ("状态变更", "moved"),
    "case.event.note": ("备注", "note"),
    "case.event.redispatch": ("重新派遣", "re-dispatched"),
    "case.event.assign": ("指派责任人", "owner assigned"),
    "case.event.extension_request": ("申请延期", "extension asked"),
    "case.event.extension_approved": ("批准延期", "extension approved"),
    "case.event.extension_refused": ("不批准延期", "extension refused"),
    "case.event.return_request": ("申请回退", "return asked"),
    "case.event.return_approved": ("批准回退", "return approved"),
    "case.event.return_refused": ("不批准回退", "return refused"),
    "desk.title": ("指挥中心", "Command centre"),
    "desk.intro": (
        "本辖区全部未结事件：派遣或改派给一名网格员，核查或退回，审批延期和回退申请。",
        "Every open case of your area: dispatch or reassign to one worker, verify or send "
        "back, decide extension and return requests.",
    ),
    "desk.open": ("未结", "open"),
    "desk.overdue": ("超期", "overdue"),
    "desk.requests": ("待审批", "requests"),
    "desk.list": ("事件列表", "Cases"),
    "desk.open_case": ("查看", "Open"),
}
PAGES.update(CASE_DESK_PAGES)

#: the case desk, second part (issue 18): paging the lists, bad input said on the pages
CASE_DESK_PAGING: dict[str, tuple[str, str]] = {
    "cases.pages": ("分页", "Pages"),
    "cases.range": ("第 {first}–{last} 件", "Cases {first}–{last}"),
    "cases.more": ("更多", "More"),
    "cases.first_page": ("回到第一页", "Back to the first"),
    "cases.new.back_to_map": ("在地图上重新选择", "Choose again on the map"),
    "case.problem.not_image": (
        "文件不是 JPEG、PNG 或 WebP 图片。",
        "The file is not a JPEG, PNG or WebP image.",
    ),
    "case.problem.unreadable": (
        "图片已损坏，无法读取。",
        "The image is damaged and cannot be read.",
    ),
    "case.problem.too_large": (
        "照片过大：超过 {limit} 字节的上限。",
        "The photo is too large: more than {limit} bytes.",
    ),
    "case.problem.too_many_pixels": (
        "照片像素过多：{actual} 像素，上限 {limit} 像素。",
        "The photo has too many pixels: {actual}, at most {limit}.",
    ),
}
PAGES.update(CASE_DESK_PAGING)


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
    "eval.level.subdistrict": ("街道", "Sub-districts"),
    "term.subdistrict": ("街道", "sub-district"),  # coverage per sub-district (city, 0017t)
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

#: the field app (issue 19): the offline queue, the bell, the webhooks page
FIELD_APP_PAGES: dict[str, tuple[str, str]] = {
    "field.bell": ("通知", "Notifications"),
    "field.notifications": ("通知", "Notifications"),
    "field.read_all": ("全部已读", "Mark all read"),
    "field.no_notifications": ("暂无通知", "No notifications"),
    "field.offline": (
        "离线: 上报和操作保存在本机, 联网后自动发送",
        "Offline: reports and actions are kept on this device and sent when the connection returns",
    ),
    "field.waiting": ("等待发送 ({n})", "Waiting to send ({n})"),
    "field.failed": ("未能发送 ({n})", "Could not send ({n})"),
    "field.sent": ("已发送 {n} 项", "{n} sent"),
    "field.photos": ("{n} 张照片", "{n} photos"),
    "field.conflict": ("事件已变化:", "The case moved on:"),
    "field.refused": ("服务器拒绝:", "Refused:"),
    "field.dismiss": ("移除", "Remove"),
    "field.report_label": ("上报: {category}", "Report: {category}"),
    "field.logout_drops": (
        "还有 {n} 项等待发送, 退出会删除它们。仍要退出吗?",
        "{n} items are still waiting to be sent; signing out deletes them. Sign out anyway?",
    ),
    "case.queued": ("已保存在本机, 等待发送", "Kept on this device, waiting to send"),
    "webhooks.title": ("工作群机器人 (Webhook)", "Work-group robots (webhooks)"),
    "webhooks.intro": (
        "每个社区或网格的新派遣、指派、退回和超期事件推送到工作群: 企业微信、钉钉、飞书或"
        "通用 JSON (签名)。消息只含事件编号、类别、网格、期限和链接。",
        "New dispatches, assignments, returned and overdue cases of a community or grid are "
        "posted to its work group: WeCom, DingTalk, Feishu or generic JSON (signed). Messages "
        "carry only the case number, category, grid, deadline and link.",
    ),
    "webhooks.unit": ("社区/网格编码", "Community or grid code"),
    "webhooks.format": ("格式", "Format"),
    "webhooks.url": ("地址", "URL"),
    "webhooks.secret": ("签名密钥 (可选)", "Signing secret (optional)"),
    "webhooks.name": ("名称", "Name"),
    "webhooks.add": ("添加", "Add"),
    "webhooks.active": ("启用", "Active"),
    "webhooks.pause": ("暂停", "Pause"),
    "webhooks.resume": ("恢复", "Resume"),
    "webhooks.delete": ("删除", "Delete"),
    "webhooks.none": ("尚无 Webhook", "No webhooks yet"),
    "webhooks.signed": ("已签名", "signed"),
    "webhooks.paused": ("已暂停", "paused"),
    "webhooks.no_log": ("暂无发送记录", "Nothing sent yet"),
    "webhooks.log": ("发送记录", "Delivery log"),
    "webhooks.status": ("状态", "Status"),
    "webhooks.attempts": ("尝试次数", "Attempts"),
    "webhooks.last": ("最近结果", "Last answer"),
    "webhooks.case": ("事件", "Case"),
    "webhooks.event": ("事件类型", "Event"),
    "webhooks.at": ("时间", "Time"),
    "webhooks.nav": ("工作群推送", "Work-group webhooks"),
    "webhooks.nav.desc": (
        "推送派遣和超期到工作群",
        "Post dispatches and overdue cases to work groups",
    ),
}


#: the planner's plans panel in the grid editor (issue 21, plans, people and locks)
PLAN_PAGES: dict[str, tuple[str, str]] = {
    "plans.title": ("调整方案", "Plans"),
    "plans.hint": (
        "方案是一组尚未生效的调整：逐项预览、可撤销重做、可与现行图层或其他方案对比，最后一次性提交。",
        "A plan is a set of edits not yet applied: each previewed, undone or redone, compared "
        "with the layer in force or another plan, then applied as one change.",
    ),
    "plans.choose": ("选择方案", "Choose a plan"),
    "plans.none": ("（不使用方案：直接提交）", "(no plan: apply edits directly)"),
    "plans.new_name": ("新方案名称", "New plan's name"),
    "plans.create": ("新建方案", "New plan"),
    "plans.edits": ("方案中的调整", "The plan's edits"),
    "plans.layer_note": (
        "地图显示本方案调整后的片区；新的调整先在方案上预览，再加入方案，不直接生效。",
        "The map shows this plan's sectors; a new edit is previewed on the plan and goes "
        "into it, not live.",
    ),
    "plans.no_edits": (
        "尚无调整：在地图上调整后点“加入方案”。",
        "No edits yet: edit on the map, then “Add to plan”.",
    ),
    "plans.add": ("加入方案", "Add to plan"),
    "plans.added": ("已加入方案：第 {seq} 项。", "Added to the plan as edit {seq}."),
    "plans.undo": ("撤销", "Undo"),
    "plans.redo": ("重做", "Redo"),
    "plans.undone": ("（已撤销）", "(undone)"),
    "plans.stale": (
        "现行图层在方案创建后已有变化：请重放(变基)或放弃该方案。",
        "The layer changed since this plan was made: rebase it or discard it.",
    ),
    "plans.rebase": ("在现行图层上重放", "Rebase on the layer in force"),
    "plans.rebased": ("方案已在现行图层上重放。", "The plan was replayed on the layer in force."),
    "plans.assign": (
        "为新片区 {sector} 指派网格员",
        "Assign a grid worker to the new sector {sector}",
    ),
    "plans.assign_worker": ("网格员", "Grid worker"),
    "plans.assign_button": ("指派", "Assign"),
    "plans.compare": ("对比", "Compare"),
    "plans.compare_with": ("对比对象", "Compare with"),
    "plans.current": ("现行图层", "The layer in force"),
    "plans.plan_label": ("方案 #{id} {name}", "Plan #{id} {name}"),
    "plans.compare_before": ("对比前", "Before"),
    "plans.compare_after": ("本方案", "This plan"),
    "plans.sector": ("片区", "Sector"),
    "plans.households": ("户数", "Households"),
    "plans.residents": ("人口", "Residents"),
    "plans.incidents": ("事件", "Incidents"),
    "plans.workers": ("网格员", "Workers"),
    "plans.per_worker": ("户/网格员", "Households per worker"),
    "plans.moved": (
        "变动：{households} 户（{residents} 人）、{incidents} 件事件、"
        "{workers} 名网格员改属其他片区。",
        "Moved: {households} households ({residents} residents), {incidents} incidents and "
        "{workers} workers change sector.",
    ),
    "plans.new_sector": ("新片区", "new sector"),
    "plans.gone_sector": ("撤销", "retired"),
    "plans.reason": ("提交原因（必填）", "Reason for applying (required)"),
    "plans.apply": ("提交方案", "Apply the plan"),
    "plans.applied": (
        "方案已作为一次调整提交：#{id}。",
        "The plan was applied as one change: #{id}.",
    ),
    "plans.discard": ("放弃方案", "Discard the plan"),
    "plans.discarded": ("方案已放弃。", "The plan was discarded."),
    "plans.export": ("导出", "Export"),
    "plans.import": ("导入方案文件", "Import a plan file"),
    "plans.locks": ("锁定片区：{codes}", "Locked sectors: {codes}"),
    "plans.lock_selected": ("锁定所选片区", "Lock the selected sector"),
    "plans.failed": ("操作未完成（{status}）：{detail}", "Not done ({status}): {detail}"),
    "plans.kind.move_border": ("调整边界", "Border move"),
    "plans.kind.move_borders": ("调整边界", "Border move"),
    "plans.kind.reassign": ("改属网格", "Reassignment"),
    "plans.kind.split": ("拆分片区", "Split"),
    "plans.kind.merge": ("合并片区", "Merge"),
    "plans.kind.rollback": ("恢复旧版本", "Rollback"),
    "plans.kind.rollback_layer": ("恢复图层", "Layer rollback"),
    "plans.kind.rebalance": ("负载均衡", "Rebalancing"),
    "plans.kind.assign_worker": ("指派网格员", "Worker assignment"),
}
PAGES.update(PLAN_PAGES)


#: the planner's layers under the pen, the balance bars, shapes, the committed-change page
#: and the orientation basemap (issue 21, part B)
UNDER_THE_PEN: dict[str, tuple[str, str]] = {
    "editor.layers.streets": ("街道与地标", "Streets and landmarks"),
    "editor.layers.courtyards": ("小区楼院", "Courtyards"),
    "editor.layers.households": ("各小区户数", "Households per courtyard"),
    "editor.layers.band": ("超出负荷区间的片区", "Sectors out of the band"),
    "editor.yard_households": ("{count} 户", "{count} households"),
    "editor.split_warning": (
        "将分割小区楼院「{name}」（{kind} · {code}）：一个小区只能属于一个片区，请沿小区边界画线。",
        "This would split the courtyard {name} ({kind} · {code}): a courtyard lies in one "
        "sector; draw the border around it.",
    ),
    "editor.balance": ("全街道负荷", "Balance of the whole district"),
    "editor.balance_hint": (
        "每名网格员户数，绿色区间为 {low}–{high} 户；右侧为人均事件数（全部记录）。",
        "Households per worker, the green band {low}–{high}; on the right, cases per worker "
        "(all on record).",
    ),
    "editor.balance_sectors": ("网格片区", "Grid sectors"),
    "editor.balance_grids": ("二级网格", "Level-2 grids"),
    "editor.balance_value": (
        "{households} 户/人 · {cases} 件/人",
        "{households} hh · {cases} cases",
    ),
    "editor.balance_no_worker": ("无网格员", "no worker"),
    "editor.balance_out": (
        "{count} 个片区超出区间（地图上以红色/蓝色标出）",
        "{count} sectors out of the band (red or blue on the map)",
    ),
    "editor.balance_key_in": ("区间内", "in band"),
    "editor.balance_key_over": ("偏高", "over"),
    "editor.balance_key_under": ("偏低", "under"),
    "editor.compactness": ("形状紧凑度（Polsby–Popper）", "Compactness (Polsby–Popper)"),
    "editor.compactness_row": ("{name}：{score}", "{name}: {score}"),
    "editor.compactness_warning": (
        "片区「{name}」形状很不紧凑（{score} < {min}），狭长或曲折的片区难以巡查。",
        "Sector {name} would be very uncompact ({score} < {min}): a thin or ragged sector is "
        "hard to walk.",
    ),
    "change.title": ("边界调整 #{id}", "Boundary change #{id}"),
    "change.reason": ("原因", "Reason"),
    "change.at": ("时间", "When"),
    "change.actor": ("操作人", "By"),
    "change.moved_count": ("{count} {kind}", "{count} {kind}"),
    "change.list_sep": ("、", ", "),
    "change.flows_not_kept": (
        "这次变更早于记录流向的版本，只有总数。",
        "This change predates the record of flows: only the totals are known.",
    ),
    "change.redispatched": (
        "{count} 件未办结事件随片区改派。",
        "{count} open cases re-dispatched with their sector.",
    ),
    "change.nowhere": ("（无）", "(none)"),
    "change.map": ("调整前后的边界", "Borders before and after"),
    "change.before": ("调整前", "before"),
    "change.after": ("调整后", "after"),
    "change.units": ("写入的单元", "Units written"),
    "change.unit": ("单元", "Unit"),
    "change.level": ("层级", "Level"),
    "change.action": ("变化", "Change"),
    "change.area": ("面积（m²）", "Area (m²)"),
    "change.action.created": ("新建", "created"),
    "change.action.reopened": ("重新启用", "reopened"),
    "change.action.changed": ("边界改变", "borders changed"),
    "change.action.renamed": ("改名", "renamed"),
    "change.action.noded": ("加入共用顶点", "shared vertex added"),
    "change.action.retired": ("撤销", "retired"),
}

#: the categories page of one sub-district's admin (0018c: per sub-district overrides)
CATEGORY_OVERRIDE_PAGES: dict[str, tuple[str, str]] = {
    "overrides.intro_own": (
        "这里的修改只对本街道生效：全市默认值不变，其他街道不受影响。与默认值不同之处标出默认值，可随时恢复默认。",
        "Changes here apply to your sub-district only: the city-wide defaults and the other "
        "sub-districts stay as they are. Values that differ from the default show it; "
        "you can go back to the default at any time.",
    ),
    "overrides.intro_city": (
        "您在修改全市默认值：没有自行设置的街道都按它执行。",
        "You are changing the city-wide defaults: every sub-district without its own setting "
        "follows them.",
    ),
    "overrides.catalogue_city_only": (
        "新增或停用类别会影响全市各街道，由市级管理员办理。",
        "Adding or retiring a category affects every sub-district: a city administrator does it.",
    ),
    "overrides.badge_own": ("本街道设置", "own setting"),
    "overrides.badge_off": ("本街道暂停受理", "not taken here"),
    "overrides.default": ("默认：{text}", "Default: {text}"),
    "overrides.default_name": ("默认名称：{name}", "Default name: {name}"),
    "overrides.field.enabled": ("本街道受理此类事件", "This sub-district takes reports of it"),
    "overrides.reset": ("恢复默认", "Back to the default"),
    "overrides.reset_confirm": (
        "确定将类别“{name}”恢复为全市默认设置吗？",
        "Set {name} back to the city-wide default?",
    ),
}

#: every label, both languages: the vocabulary of the domain modules and the pages' wording
MESSAGES: dict[str, tuple[str, str]] = {
    **{f"term.{value}": pair for value, pair in LABELS.items()},
    **{f"role.{role.value}": pair for role, pair in ROLE_LABELS.items()},
    **{f"metric.{key}": (zh, en) for key, zh, en in METRICS},
    **{f"flag.{key}": (zh, en) for key, (zh, en, _metric) in FLAGS.items()},
    **{f"rule.{key}": pair for key, pair in RULES.items()},
    **{f"staff.{key}": pair for key, pair in STAFF_LABELS.items()},
    **PAGES,
    **EVALUATION_PAGES,
    **UNDER_THE_PEN,
    **{f"rate.{key}": (zh, en) for key, (_n, _d, zh, en) in EVALUATION_RATES.items()},
    **{f"figure.{key}": pair for key, pair in EVALUATION_FIGURES.items()},
    **FIELD_APP_PAGES,
    **CATEGORY_OVERRIDE_PAGES,
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
