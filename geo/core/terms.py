"""The domain's vocabulary: each enumeration once, with its Chinese and English names.

Every label the product prints for a level, kind or state comes from here.
"""

from __future__ import annotations

import math
from datetime import timedelta, timezone
from enum import StrEnum


class Level(StrEnum):
    """The nesting of spatial units. Level-1 grids are the communities themselves."""

    DISTRICT = "district"
    COMMUNITY = "community"
    GRID2 = "grid2"
    SECTOR = "sector"


#: each level's parent level
PARENT_LEVEL: dict[Level, Level] = {
    Level.COMMUNITY: Level.DISTRICT,
    Level.GRID2: Level.COMMUNITY,
    Level.SECTOR: Level.GRID2,
}


class CourtyardKind(StrEnum):
    MANAGED = "managed"
    SCATTERED = "scattered"
    RENTAL = "rental"


class BusinessKind(StrEnum):
    SHOP = "shop"
    ENTERPRISE = "enterprise"
    INSTITUTION = "institution"


class ResourceKind(StrEnum):
    GRID_WORKER = "grid_worker"
    STATIONED_OFFICER = "stationed_officer"
    PARTY_ORG = "party_org"
    PARTY_MEMBER = "party_member"
    COBUILDING_UNIT = "cobuilding_unit"
    PROPERTY_COMPANY = "property_company"
    COMMITTEE_MEMBER = "committee_member"
    GOVERNANCE_CENTRE = "governance_centre"


class PartyLevel(StrEnum):
    """The five-level chain, top to bottom."""

    WORKING_COMMITTEE = "working_committee"
    COMMUNITY_COMMITTEE = "community_committee"
    GRID_BRANCH = "grid_branch"
    BUILDING_GROUP = "building_group"
    CENTRAL_HOUSEHOLD = "central_household"


class BranchType(StrEnum):
    AGENCY = "agency"
    COURTYARD = "courtyard"
    NONPUBLIC = "nonpublic"


class MemberKind(StrEnum):
    DIRECT = "direct"
    IN_SERVICE = "in_service"


class IncidentStatus(StrEnum):
    REPORTED = "reported"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


#: statuses after which a case is closed (no more work, no deadline), in one fixed order
CLOSED = (IncidentStatus.VERIFIED, IncidentStatus.REJECTED, IncidentStatus.DUPLICATE)
CLOSED_STATUSES = frozenset(CLOSED)
#: the same as an SQL list, for statements built as text: `status NOT IN {CLOSED_SQL}`
#: (bind `sorted(CLOSED_STATUSES)` as `:closed` where a parameter fits)
CLOSED_SQL = "(" + ", ".join(f"'{s.value}'" for s in CLOSED) + ")"

# -- time -----------------------------------------------------------------------------------
#: Beijing time: China has one time zone and no daylight saving (since 1991), so local time is
#: UTC + 8 h all year. Naive times from users and files are read as Beijing time.
BEIJING_OFFSET = timedelta(hours=8)
BEIJING = timezone(BEIJING_OFFSET, "CST")
#: its name for PostgreSQL (`AT TIME ZONE`) and its ISO 8601 suffix
BEIJING_ZONE = "Asia/Shanghai"
BEIJING_ISO = "+08:00"

# -- measures -------------------------------------------------------------------------------
#: metres per degree of latitude (and of longitude at the equator), for rough distances in
#: degrees before a projected measure; the district's latitude is `DISTRICT_LATITUDE`
METRES_PER_DEGREE = 111_320.0
DISTRICT_LATITUDE = 39.76


def longitude_degrees(metres: float) -> float:
    """Degrees of longitude that make `metres` at the district's latitude (the larger of the
    two degree steps there, so a search box of this half-width holds the circle):
    `longitude_degrees(100)` → 0.00117."""
    return metres / (METRES_PER_DEGREE * math.cos(math.radians(DISTRICT_LATITUDE)))


# -- households per grid worker -------------------------------------------------------------
# One band for the coverage flag, the editor's load table, the preview and rebalancing. The
# target is settings.households_per_worker_target (300), the band settings.rebalance_band
# (±10 %: 270–330). A unit is "over" above the target (the coverage flag 超标, the editor's
# 偏高), "on_target" from the band's floor up to the target (达标), "under" below the floor;
# rebalancing aims every sector into the band ("within_band": 270–330). A unit without a grid
# worker has no figure and no verdict: None, never False.


def within_band(per_worker: float | None, target: float, band: float) -> bool | None:
    """Whether households per worker lie within `band` (a fraction) of `target`; None for a
    unit without workers: `within_band(322.0, 300, 0.1)` → True."""
    return None if per_worker is None else abs(per_worker - target) <= band * target


def workload(per_worker: float | None, target: float, band: float) -> str | None:
    """ "over" above `target`, "on_target" down to the band's floor, "under" below it, None
    for a unit without workers: `workload(322.0, 300, 0.1)` → "over"."""
    if per_worker is None:
        return None
    if per_worker > target:
        return "over"
    return "on_target" if per_worker >= target * (1 - band) else "under"


#: (中文, English) for every value above
LABELS: dict[str, tuple[str, str]] = {
    Level.DISTRICT: ("街道", "sub-district"),
    Level.COMMUNITY: ("社区(一级网格)", "community (level-1 grid)"),
    Level.GRID2: ("二级网格", "level-2 grid"),
    Level.SECTOR: ("网格片区", "grid sector"),
    CourtyardKind.MANAGED: ("物管小区", "property-managed"),
    CourtyardKind.SCATTERED: ("散居楼院", "scattered"),
    CourtyardKind.RENTAL: ("出租户", "rental housing"),
    BusinessKind.SHOP: ("商业门店", "shop"),
    BusinessKind.ENTERPRISE: ("企业", "enterprise"),
    BusinessKind.INSTITUTION: ("事业单位", "public institution"),
    ResourceKind.GRID_WORKER: ("网格员", "grid worker"),
    ResourceKind.STATIONED_OFFICER: ("驻点政法干警", "stationed officer"),
    ResourceKind.PARTY_ORG: ("党组织", "party organisation"),
    ResourceKind.PARTY_MEMBER: ("党员", "party member"),
    ResourceKind.COBUILDING_UNIT: ("共驻共建单位", "co-building unit"),
    ResourceKind.PROPERTY_COMPANY: ("物业服务企业", "property company"),
    ResourceKind.COMMITTEE_MEMBER: ("兼职委员", "part-time committee member"),
    ResourceKind.GOVERNANCE_CENTRE: ("综治中心", "governance centre"),
    PartyLevel.WORKING_COMMITTEE: ("街道党工委", "sub-district working committee"),
    PartyLevel.COMMUNITY_COMMITTEE: ("社区党委", "community committee"),
    PartyLevel.GRID_BRANCH: ("网格党支部", "grid branch"),
    PartyLevel.BUILDING_GROUP: ("楼栋党小组", "building group"),
    PartyLevel.CENTRAL_HOUSEHOLD: ("党员中心户", "party-member central household"),
    BranchType.AGENCY: ("机关党支部", "agency branch"),
    BranchType.COURTYARD: ("楼院党支部", "courtyard branch"),
    BranchType.NONPUBLIC: ("非公企业党支部", "non-public enterprise branch"),
    MemberKind.DIRECT: ("直管党员", "directly managed member"),
    MemberKind.IN_SERVICE: ("在职党员", "in-service member"),
    IncidentStatus.REPORTED: ("已上报", "reported"),
    IncidentStatus.DISPATCHED: ("已派遣", "dispatched"),
    IncidentStatus.IN_PROGRESS: ("处置中", "in progress"),
    IncidentStatus.RESOLVED: ("已办结", "resolved"),
    IncidentStatus.VERIFIED: ("已核查结案", "verified and closed"),
    IncidentStatus.REJECTED: ("不予受理", "rejected"),
    IncidentStatus.DUPLICATE: ("重复上报", "duplicate"),
}


def label(value: str, lang: str = "zh") -> str:
    """The Chinese (default) or English name of a vocabulary value: `label("grid2")` → 二级网格."""
    zh, en = LABELS[value]
    return zh if lang == "zh" else en
