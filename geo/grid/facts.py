"""The district's figures (FACTS.md): the one place the seeded totals come from.

Figures quoted from the case study are plain; assumptions (the case is silent) say so.
"""

from __future__ import annotations

from geo.core.terms import BranchType, CourtyardKind, MemberKind

AREA_KM2 = 26.19
COMMUNITIES = 3
GRIDS_LEVEL1 = 3
GRIDS_LEVEL2 = 12
SECTORS = 22
COURTYARDS = {CourtyardKind.MANAGED: 35, CourtyardKind.SCATTERED: 17, CourtyardKind.RENTAL: 8}
HOUSEHOLDS = 14_268
RESIDENTS = 32_691
ENTERPRISES_AND_INSTITUTIONS = 27
SHOPS = 3_510
COBUILDING_UNITS = 19
COMMITTEE_MEMBERS = 51
PARTY_BRANCHES = {BranchType.AGENCY: 4, BranchType.COURTYARD: 9, BranchType.NONPUBLIC: 4}
PARTY_MEMBERS = {MemberKind.DIRECT: 580, MemberKind.IN_SERVICE: 901}
PROPERTY_COMPANIES = 28
PROPERTY_COMPANIES_WITH_PARTY_ORG = 7

# -- assumptions --------------------------------------------------------------------
#: enterprises among the 27 enterprises and institutions (the rest are institutions)
ENTERPRISES = 15
#: building party groups (楼栋党小组) and party-member central households (党员中心户)
BUILDING_GROUPS = 36
CENTRAL_HOUSEHOLDS = 120
#: households one grid worker serves when the seed staffs a sector (the target stays 300)
SEED_HOUSEHOLDS_PER_WORKER = 290
#: level-2 grids without a stationed officer in the seed, so coverage flags have work
GRIDS_WITHOUT_OFFICER = 2
#: incidents in the two-year seeded history at --scale 1
INCIDENTS_PER_SCALE = 25_000
HISTORY_DAYS = 730
