"""The five importable kinds: households, residents, businesses, resources, incidents —
their fields (with the headers grid offices use), checks and what is derived on import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cases import intake
from geo.cases.deadlines import dispatch_due_at, due_at
from geo.cases.dispatch import DISPATCH_ON_INSERT, SECTOR_TEAMS
from geo.core.terms import LABELS, BranchType, BusinessKind, MemberKind, PartyLevel, ResourceKind
from geo.imports.base import ImportOptions, register
from geo.imports.columns import Field, choices_of
from geo.imports.points import PointImporter, Values


def _labelled(enum, extra: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Choices of an enumeration: its codes, Chinese and English names (and `extra`)."""
    names = {v.value: (*LABELS[v], *((extra or {}).get(v.value, ()))) for v in enum}
    return choices_of(names)


PHONE_PATTERN = r"^\+?[0-9][0-9 \-]{4,19}$"


def _phone_check(values: Values, column: str) -> None:
    phone = values.columns.get(column)
    if phone is not None:
        bad = phone.notna() & ~phone.fillna("").str.match(PHONE_PATTERN)
        values.add(bad.to_numpy(dtype=bool), column, "not a phone number")


class Households(PointImporter):
    kind = table = "households"
    label = ("住户", "households")

    def fields(self, conn: Connection) -> list[Field]:
        return [
            Field(
                "id",
                required=True,
                max_length=40,
                aliases=("户编号", "户号", "住户编号", "household_id", "编号", "户id"),
                label="户编号",
            ),
            Field("address", aliases=("地址", "住址", "家庭住址", "详细地址"), label="地址"),
            Field(
                "building",
                max_length=20,
                aliases=("楼栋", "楼号", "栋", "幢", "楼栋号", "building_no"),
                label="楼栋",
            ),
            Field("unit_no", max_length=20, aliases=("单元", "单元号", "unit"), label="单元"),
            Field(
                "room",
                max_length=20,
                aliases=("房号", "室", "房间号", "门牌号", "户室号", "room_no"),
                label="房号",
            ),
        ]


#: GB 11643 check characters of citizen ID numbers
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def id_number_problems(numbers: pd.Series) -> np.ndarray:
    """Per number, why it is not a valid 18-character citizen ID number, or None."""
    text = numbers.fillna("").str.upper()
    reasons = np.full(len(text), None, dtype=object)
    given = (text != "").to_numpy(dtype=bool)
    shaped = text.str.fullmatch(r"\d{17}[\dX]").to_numpy(dtype=bool)
    reasons[given & ~shaped] = "not an 18-character ID number (17 digits and a digit or X)"
    idx = np.flatnonzero(given & shaped)
    if len(idx):
        digits = np.array([list(s[:17]) for s in text.to_numpy()[idx]], dtype=int)
        expected = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
        last = np.array([s[17] for s in text.to_numpy()[idx]])
        wrong = idx[expected != last]
        reasons[wrong] = "the ID number's check character is wrong (GB 11643)"
    return reasons


class Residents(PointImporter):
    kind = table = "residents"
    label = ("居民", "residents")
    geometry = "none"

    def fields(self, conn: Connection) -> list[Field]:
        return [
            Field(
                "id",
                required=True,
                max_length=40,
                aliases=("人员编号", "居民编号", "编号", "person_id", "resident_id"),
                label="人员编号",
            ),
            Field(
                "household_id",
                required=True,
                max_length=40,
                aliases=("户编号", "户号", "所属户", "所属户编号", "household"),
                label="户编号",
            ),
            Field(
                "name",
                required=True,
                max_length=40,
                aliases=("姓名", "名字", "name_zh"),
                label="姓名",
            ),
            Field(
                "gender",
                "choice",
                choices=choices_of(
                    {"M": ("男", "male", "m", "男性"), "F": ("女", "female", "f", "女性")}
                ),
                aliases=("性别", "sex"),
                label="性别",
            ),
            Field(
                "birth_date",
                "date",
                aliases=("出生日期", "生日", "出生年月日", "birthday", "dob"),
                label="出生日期",
            ),
            Field(
                "relation",
                max_length=20,
                aliases=("与户主关系", "关系", "家庭关系"),
                label="与户主关系",
            ),
            Field(
                "phone",
                max_length=20,
                aliases=("联系电话", "电话", "手机", "手机号", "手机号码", "mobile", "tel"),
                label="联系电话",
            ),
            Field(
                "id_number",
                max_length=18,
                aliases=("身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码", "idcard"),
                label="身份证号",
            ),
        ]

    def check_values(self, values: Values) -> None:
        numbers = values.columns.get("id_number")
        if numbers is not None:
            reasons = id_number_problems(numbers)
            values.add(reasons != None, "id_number", reasons)  # noqa: E711
            values.columns["id_number"] = numbers.str.upper()
        _phone_check(values, "phone")

    def check_rows_sql(self, columns: set[str]) -> list[tuple[str, str, str]]:
        return [
            (
                "household_id",
                "SELECT r.row_no, r.household_id FROM import_rows r "
                "WHERE r.household_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM households h WHERE h.id = r.household_id)",
                "no household with this id; import the households first",
            )
        ]


class Businesses(PointImporter):
    kind = table = "businesses"
    label = ("商户与单位", "businesses")

    def fields(self, conn: Connection) -> list[Field]:
        return [
            Field(
                "id",
                required=True,
                max_length=40,
                aliases=("编号", "单位编号", "门店编号", "商户编号", "店铺编号"),
                label="编号",
            ),
            Field(
                "name_zh",
                required=True,
                max_length=120,
                aliases=(
                    "名称",
                    "店名",
                    "店铺名称",
                    "商户名称",
                    "门店名称",
                    "单位名称",
                    "企业名称",
                    "name",
                ),
                label="名称",
            ),
            Field(
                "name_en", max_length=160, aliases=("英文名称", "english_name"), label="英文名称"
            ),
            Field(
                "kind",
                "choice",
                default=BusinessKind.SHOP.value,
                choices=_labelled(
                    BusinessKind,
                    {
                        "shop": ("商铺", "门店", "商户", "店铺"),
                        "enterprise": ("公司", "企业单位"),
                        "institution": ("机关", "事业单位", "机关事业单位"),
                    },
                ),
                aliases=("类型", "单位类型", "type"),
                label="类型 (默认商业门店)",
            ),
            Field(
                "category",
                max_length=40,
                aliases=("类别", "行业", "经营类别", "业态", "行业类别"),
                label="类别",
            ),
            Field("address", aliases=("地址", "经营地址", "详细地址"), label="地址"),
        ]


class Resources(PointImporter):
    kind = table = "resources"
    label = ("治理资源", "governance resources")
    geometry = "optional"

    def fields(self, conn: Connection) -> list[Field]:
        return [
            Field("id", required=True, max_length=40, aliases=("编号", "资源编号"), label="编号"),
            Field(
                "kind",
                "choice",
                required=True,
                max_length=24,
                choices=_labelled(ResourceKind),
                aliases=("类型", "资源类型", "类别"),
                label="类型",
            ),
            Field(
                "subtype",
                "choice",
                choices=_labelled(PartyLevel) | _labelled(MemberKind),
                aliases=("子类", "子类型", "层级"),
                label="子类",
            ),
            Field(
                "branch_type",
                "choice",
                choices=_labelled(BranchType),
                aliases=("支部类型",),
                label="支部类型",
            ),
            Field(
                "name_zh",
                required=True,
                max_length=120,
                aliases=("名称", "姓名", "name"),
                label="名称",
            ),
            Field("name_en", max_length=160, aliases=("英文名称",), label="英文名称"),
            Field(
                "parent_id",
                max_length=40,
                aliases=("上级编号", "上级", "所属组织", "parent"),
                label="上级编号",
            ),
            Field(
                "serves_code",
                max_length=32,
                aliases=("服务网格", "负责网格", "所属网格", "网格编码", "网格代码", "serves"),
                label="服务网格编码",
            ),
            Field(
                "has_party_org",
                "bool",
                aliases=("是否建立党组织", "建立党组织", "党组织"),
                label="是否建立党组织",
            ),
            Field("phone", max_length=20, aliases=("联系电话", "电话", "手机"), label="联系电话"),
        ]

    def check_values(self, values: Values) -> None:
        ids, parents = values.columns.get("id"), values.columns.get("parent_id")
        if ids is not None and parents is not None:
            own = (parents.notna() & (parents == ids)).to_numpy(dtype=bool)
            values.add(own, "parent_id", "a resource cannot be its own parent")
        _phone_check(values, "phone")

    def check_rows_sql(self, columns: set[str]) -> list[tuple[str, str, str]]:
        checks = []
        if "serves_code" in columns:
            checks.append(
                (
                    "serves_code",
                    "SELECT r.row_no, r.serves_code FROM import_rows r "
                    "WHERE r.serves_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM units u "
                    "WHERE u.code = r.serves_code AND u.valid_to IS NULL)",
                    "no current unit with this code",
                )
            )
        if "parent_id" in columns:
            checks.append(
                (
                    "parent_id",
                    "SELECT r.row_no, r.parent_id FROM import_rows r "
                    "WHERE r.parent_id IS NOT NULL "
                    "AND NOT EXISTS (SELECT 1 FROM resources o WHERE o.id = r.parent_id) "
                    "AND NOT EXISTS (SELECT 1 FROM import_rows o WHERE o.id = r.parent_id)",
                    "no resource with this id, in the database or in this file",
                )
            )
        return checks

    def dependent_sql(self) -> tuple[str, str, str] | None:
        return (
            "parent_id",
            "SELECT r.row_no, r.parent_id FROM import_rows r "
            "JOIN import_rows o ON o.id = r.parent_id AND o.row_no = ANY(CAST(:bad AS int[])) "
            "WHERE r.row_no <> ALL(CAST(:bad AS int[])) "
            "AND NOT EXISTS (SELECT 1 FROM resources e WHERE e.id = r.parent_id)",
            "its parent is rejected in this file, so it cannot be loaded either",
        )


class Incidents(PointImporter):
    """Incidents enter the case loop as new reports: each gets its deadlines from its
    category's time limits (`geo.cases.deadlines`) and is opened by the one case intake
    (`geo.cases.intake`), exactly as a report over HTTP: a report event, then dispatch to
    its sector's team, or, when nobody serves the sector, `reported` with a note."""

    kind = table = "incidents"
    label = ("事件", "incidents")
    id_required = False
    id_default_sql = "'I' || lpad(nextval('incident_seq')::text, 10, '0')"
    #: observed times further ahead than this are refused as typing errors
    FUTURE_SLACK = timedelta(days=1)

    def fields(self, conn: Connection) -> list[Field]:
        # a retired category can no longer be reported, from a file either, nor one the
        # sub-district switched off (0018c)
        categories = conn.execute(
            text(
                "SELECT code, name_zh, name_en FROM categories_in_force "
                "WHERE retired_at IS NULL AND enabled ORDER BY sort"
            )
        ).all()
        return [
            Field(
                "id",
                max_length=40,
                aliases=("事件编号", "编号", "案件编号", "工单号", "incident_id"),
                label="事件编号",
            ),
            Field(
                "category",
                "choice",
                required=True,
                choices=choices_of({c.code: (c.name_zh, c.name_en) for c in categories}),
                aliases=("事件类别", "类别", "事件类型", "类型", "分类"),
                label="事件类别",
            ),
            Field(
                "observed_at",
                "datetime",
                required=True,
                aliases=("发生时间", "发现时间", "事发时间", "时间", "observed"),
                label="发生时间",
            ),
            Field(
                "reported_at",
                "datetime",
                aliases=("上报时间", "报告时间", "reported"),
                label="上报时间 (默认=发生时间)",
            ),
            Field(
                "description",
                aliases=("描述", "事件描述", "内容", "事件内容", "情况说明"),
                label="描述",
            ),
            Field(
                "reporter_contact",
                max_length=40,
                aliases=("上报人电话", "上报人联系方式", "联系方式", "联系电话"),
                label="上报人联系方式",
            ),
        ]

    def check_values(self, values: Values) -> None:
        observed = values.columns["observed_at"]
        reported = values.columns.get("reported_at")
        if reported is not None:
            early = (reported < observed).fillna(False).to_numpy(dtype=bool)
            values.add(early, "reported_at", "reported before it was observed")
        future = pd.Timestamp(datetime.now(UTC) + self.FUTURE_SLACK)
        late = (observed > future).fillna(False).to_numpy(dtype=bool)
        values.add(late, "observed_at", "in the future")

    def derive(self, conn: Connection, values: Values) -> dict[str, pd.Series]:
        limits = pd.read_sql(
            "SELECT code, dispatch_minutes, close_minutes, close_working_days "
            "FROM categories_in_force",
            conn,
        ).set_index("code")
        category = values.columns["category"]
        observed = values.columns["observed_at"]
        reported = values.columns.get("reported_at", observed).fillna(observed)
        per_row = limits.reindex(category.fillna("").to_numpy())
        at = reported.dt.tz_convert(None).to_numpy("datetime64[s]")
        minutes = per_row["dispatch_minutes"].to_numpy(float)
        ok = ~np.isnat(at) & np.isfinite(minutes)
        safe_at = np.where(ok, at, np.datetime64("2000-01-03T00:00:00", "s"))
        dispatch = dispatch_due_at(safe_at, np.nan_to_num(minutes))
        close = due_at(
            safe_at,
            np.where(ok, per_row["close_minutes"].to_numpy(float), 0.0),
            np.where(ok, per_row["close_working_days"].to_numpy(float), np.nan),
        )

        def utc(stamps: np.ndarray) -> pd.Series:
            return pd.Series(np.where(ok, stamps, np.datetime64("NaT"))).dt.tz_localize("UTC")

        return {"reported_at": reported, "dispatch_due_at": utc(dispatch), "due_at": utc(close)}

    def derived_types(self) -> dict[str, str]:
        return {
            "reported_at": "timestamptz",
            "dispatch_due_at": "timestamptz",
            "due_at": "timestamptz",
        }

    def write(
        self,
        conn: Connection,
        staged: list[str],
        bad: list[int],
        options: ImportOptions,
        source: str,
        values: Values,
    ) -> tuple[int, int]:
        update, insert = self.write_sql(
            staged,
            insert_only={
                **values.defaults,
                "status": DISPATCH_ON_INSERT["status"],
                "dispatched_at": DISPATCH_ON_INSERT["dispatched_at"],
                "source": "'import'",
            },
            update_also={
                "assigned_to": (
                    DISPATCH_ON_INSERT["assigned_to"],
                    "CASE WHEN t.status = 'dispatched' AND t.sector_code IS DISTINCT FROM "
                    "n.sector_code THEN n.assigned_to ELSE t.assigned_to END",
                )
            },
            joins="LEFT JOIN team ON team.sector_code = c.sector_code",
        )
        at = datetime.now(UTC)
        params = {"bad": bad, "at": at}
        intake.stage(conn)
        updated = conn.execute(text(f"WITH team AS ({SECTOR_TEAMS}) {update}"), params).rowcount
        inserted = conn.execute(
            text(
                f"WITH team AS ({SECTOR_TEAMS}), up AS ({insert} RETURNING t.id) "
                f"{intake.STAGE_SQL} SELECT id FROM up"
            ),
            params,
        ).rowcount
        note = f"批量导入 imported from {source}"
        intake.open_staged(conn, at, options.actor, report_note=note, decided=True)
        return inserted, updated


for _importer in (Households(), Residents(), Businesses(), Resources(), Incidents()):
    register(_importer)
