"""Governance resources laid on the grid: the five-level party chain and its members,
grid workers, stationed officers, co-building units, property companies, committee members
and the communities' governance centres."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.core.terms import BranchType, CourtyardKind, MemberKind, PartyLevel, ResourceKind
from geo.grid import facts
from geo.synth.names import person_names, phone_numbers
from geo.synth.places import SHOP_WORDS

COLUMNS = [
    "id",
    "kind",
    "subtype",
    "branch_type",
    "name_zh",
    "name_en",
    "parent_id",
    "serves_code",
    "has_party_org",
    "phone",
    "x",
    "y",
]


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, **row) -> str:
        self.rows.append(row)
        return row["id"]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows).reindex(columns=COLUMNS)


def _xy(geom) -> tuple[float, float]:
    p = geom if geom.geom_type == "Point" else geom.representative_point()
    return p.x, p.y


def resources(
    units: gpd.GeoDataFrame,
    courtyards: gpd.GeoDataFrame,
    households: pd.DataFrame,
    businesses: pd.DataFrame,
    landmarks: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every resource (metric x, y), and each managed courtyard's property company id.

    `units` holds the communities, grids and sectors with code, level, parent_code and
    name; `courtyards` holds code, kind, sector_code, community_code and households.
    """
    out = _Rows()
    office = {lm["name_en"]: lm.geometry for _, lm in landmarks.iterrows()}
    communities = units[units["level"] == "community"].sort_values("code")
    chain = _chain(out, units, communities, office)
    managed = _branches(out, chain, communities, courtyards, businesses)
    _groups_and_central_households(out, chain, managed, households, rng)
    _party_members(out, chain, households, rng)
    company_of = _partners(out, chain.top, courtyards, businesses, rng)
    _grid_staff(out, units, courtyards, rng)
    frame = out.frame()
    for col in ("kind", "subtype", "branch_type"):
        frame[col] = frame[col].map(lambda v: None if v is None or v != v else str(v))
    frame["synthetic"] = True
    return frame, company_of


@dataclass
class _Chain:
    """The top of the party chain as the later rows link to it."""

    top: str
    street_office: object
    committee_of: dict
    centre_of: dict
    branches: list = field(default_factory=list)  # (id, community code)
    groups: list = field(default_factory=list)  # (id, courtyard code)


def _chain(out: _Rows, units, communities, office: dict) -> _Chain:
    """The working committee, and each community's committee and governance centre."""
    street_office = office["Xibeijie Sub-district Office"]
    top = out.add(
        id="P00",
        kind=ResourceKind.PARTY_ORG,
        subtype=PartyLevel.WORKING_COMMITTEE,
        name_zh="西北街街道党工委",
        name_en="Xibeijie Working Committee",
        serves_code=units[units["level"] == "district"]["code"].iloc[0],
        x=street_office.x,
        y=street_office.y,
    )
    committee_of, centre_of = {}, {}
    for i, (_, c) in enumerate(communities.iterrows(), start=1):
        short_en = c["name_en"].replace(" Community", "")
        centre = office[f"{short_en} Community Centre"]
        centre_of[c["code"]] = centre
        committee_of[c["code"]] = out.add(
            id=f"P{i:02d}",
            kind=ResourceKind.PARTY_ORG,
            subtype=PartyLevel.COMMUNITY_COMMITTEE,
            parent_id=top,
            name_zh=f"{c['name_zh']}党委",
            name_en=f"{short_en} Community Committee",
            serves_code=c["code"],
            x=centre.x,
            y=centre.y,
        )
        out.add(
            id=f"G{i:02d}",
            kind=ResourceKind.GOVERNANCE_CENTRE,
            name_zh=f"{c['name_zh']}综治中心",
            name_en=f"{short_en} Governance Centre",
            serves_code=c["code"],
            x=centre.x,
            y=centre.y,
        )

    return _Chain(top, street_office, committee_of, centre_of)


def _branches(out: _Rows, chain: _Chain, communities, courtyards, businesses):
    """Grid branches; returns the managed courtyards, largest first."""
    street_office, committee_of, centre_of = (
        chain.street_office,
        chain.committee_of,
        chain.centre_of,
    )
    # grid branches: agency ones in the four offices, courtyard ones in nine compounds,
    # non-public ones in four enterprises
    branches = chain.branches

    def branch(kind: BranchType, zh: str, en: str, geom_xy, community: str) -> None:
        bid = out.add(
            id=f"PB{len(branches) + 1:02d}",
            kind=ResourceKind.PARTY_ORG,
            subtype=PartyLevel.GRID_BRANCH,
            branch_type=kind,
            parent_id=committee_of[community],
            name_zh=zh,
            name_en=en,
            x=geom_xy[0],
            y=geom_xy[1],
        )
        branches.append((bid, community))

    agency_sites = [("街道机关", "Sub-district Office", street_office, communities["code"].iloc[0])]
    agency_sites += [
        (f"{c['name_zh']}机关", f"{c['name_en']} Office", centre_of[c["code"]], c["code"])
        for _, c in communities.iterrows()
    ]
    for zh, en, geom, comm in agency_sites[: facts.PARTY_BRANCHES[BranchType.AGENCY]]:
        branch(BranchType.AGENCY, f"{zh}党支部", f"{en} Party Branch", _xy(geom), comm)
    managed = courtyards[courtyards["kind"] == CourtyardKind.MANAGED].sort_values(
        "households", ascending=False
    )
    for _, y in managed.head(facts.PARTY_BRANCHES[BranchType.COURTYARD]).iterrows():
        branch(
            BranchType.COURTYARD,
            f"{y['name_zh']}楼院党支部",
            f"{y['name_en']} Courtyard Party Branch",
            _xy(y.geometry),
            y["community_code"],
        )
    firms = businesses[businesses["kind"] == "enterprise"].head(
        facts.PARTY_BRANCHES[BranchType.NONPUBLIC]
    )
    for _, f in firms.iterrows():
        branch(
            BranchType.NONPUBLIC,
            f"{f['name_zh']}党支部",
            f"{f['name_en']} Party Branch",
            (f["x"], f["y"]),
            f["community_code"],
        )

    return managed


def _groups_and_central_households(out: _Rows, chain: _Chain, managed, households, rng) -> None:
    branches = chain.branches
    # building groups in the largest compounds, central households among their residents
    groups = chain.groups
    yards = managed.head(facts.BUILDING_GROUPS)
    for g in range(facts.BUILDING_GROUPS):
        y = yards.iloc[g % len(yards)]
        parent = next(b for b, comm in branches if comm == y["community_code"])
        groups.append(
            (
                out.add(
                    id=f"PG{g + 1:02d}",
                    kind=ResourceKind.PARTY_ORG,
                    subtype=PartyLevel.BUILDING_GROUP,
                    parent_id=parent,
                    name_zh=f"{y['name_zh']}第{g // len(yards) + 1}楼栋党小组",
                    name_en=f"{y['name_en']} Building Group {g // len(yards) + 1}",
                    x=_xy(y.geometry)[0],
                    y=_xy(y.geometry)[1],
                ),
                y["code"],
            )
        )
    homes = households.iloc[rng.choice(len(households), facts.CENTRAL_HOUSEHOLDS, replace=False)]
    for k, (_, h) in enumerate(homes.iterrows(), start=1):
        in_yard = [gid for gid, yard in groups if yard == h["courtyard"]]
        out.add(
            id=f"PH{k:03d}",
            kind=ResourceKind.PARTY_ORG,
            subtype=PartyLevel.CENTRAL_HOUSEHOLD,
            parent_id=in_yard[0] if in_yard else groups[k % len(groups)][0],
            name_zh=f"党员中心户({h['address']})",
            name_en=f"Central household {h['id']}",
            x=h["x"],
            y=h["y"],
        )


def _party_members(out: _Rows, chain: _Chain, households, rng) -> None:
    branches, committee_of = chain.branches, chain.committee_of
    # party members live in households; direct ones belong to a branch of their community
    member_homes = households.iloc[
        rng.choice(len(households), sum(facts.PARTY_MEMBERS.values()), replace=False)
    ]
    names = person_names(rng, len(member_homes))
    phones = phone_numbers(rng, len(member_homes))
    kinds = [k for k, cnt in facts.PARTY_MEMBERS.items() for _ in range(cnt)]
    for k, ((_, h), kind) in enumerate(zip(member_homes.iterrows(), kinds, strict=True)):
        comm = h["community_code"]
        if kind == MemberKind.DIRECT:
            own = [b for b, c in branches if c == comm] or [b for b, _ in branches]
            parent = own[k % len(own)]
        else:
            parent = committee_of[comm]
        out.add(
            id=f"M{k + 1:04d}",
            kind=ResourceKind.PARTY_MEMBER,
            subtype=kind,
            parent_id=parent,
            name_zh=names[k],
            phone=phones[k],
            x=h["x"],
            y=h["y"],
        )


def _partners(out: _Rows, top: str, courtyards, businesses, rng) -> dict[str, str]:
    """Co-building units, property companies (returns each managed courtyard's), committee
    members."""
    for k, (_, b) in enumerate(
        businesses[businesses["kind"] != "shop"].head(facts.COBUILDING_UNITS).iterrows()
    ):
        out.add(
            id=f"C{k + 1:02d}",
            kind=ResourceKind.COBUILDING_UNIT,
            name_zh=b["name_zh"],
            name_en=b["name_en"],
            parent_id=top,
            x=b["x"],
            y=b["y"],
        )
    company_of: dict[str, str] = {}
    managed_by_code = courtyards[courtyards["kind"] == CourtyardKind.MANAGED].sort_values("code")
    for k, (_, y) in enumerate(managed_by_code.iterrows()):
        c = k % facts.PROPERTY_COMPANIES
        cid = f"PC{c + 1:02d}"
        company_of[y["code"]] = cid
        if k < facts.PROPERTY_COMPANIES:
            word_zh, word_en = SHOP_WORDS[c % len(SHOP_WORDS)]
            suffix = "" if c < len(SHOP_WORDS) else str(c // len(SHOP_WORDS) + 1)
            out.add(
                id=cid,
                kind=ResourceKind.PROPERTY_COMPANY,
                name_zh=f"酒泉{word_zh}{suffix}物业服务有限公司",
                name_en=f"Jiuquan {word_en}{suffix} Property Services Co.",
                has_party_org=c < facts.PROPERTY_COMPANIES_WITH_PARTY_ORG,
                x=_xy(y.geometry)[0],
                y=_xy(y.geometry)[1],
            )
    hosts = businesses[businesses["kind"] != "shop"]
    names = person_names(rng, facts.COMMITTEE_MEMBERS)
    for k in range(facts.COMMITTEE_MEMBERS):
        h = hosts.iloc[k % len(hosts)]
        out.add(
            id=f"K{k + 1:02d}",
            kind=ResourceKind.COMMITTEE_MEMBER,
            name_zh=names[k],
            parent_id=top,
            x=h["x"],
            y=h["y"],
        )

    return company_of


def _grid_staff(out: _Rows, units, courtyards, rng) -> None:
    grids = units[units["level"] == "grid2"].sort_values("code")
    sectors = units[units["level"] == "sector"].sort_values("code")
    # grid workers: about one per SEED_HOUSEHOLDS_PER_WORKER households of the sector, at
    # least one; the sector with the fewest households is left without (a gap to find)
    per_sector = courtyards.groupby("sector_code")["households"].sum()
    hh = sectors["code"].map(per_sector).fillna(0).astype(int).values
    workers = np.maximum(1, np.round(hh / facts.SEED_HOUSEHOLDS_PER_WORKER)).astype(int)
    workers[np.argmin(np.where(hh > 0, hh, np.inf))] = 0
    total = int(workers.sum())
    names, phones = person_names(rng, total), phone_numbers(rng, total)
    k = 0
    for (_, s), count in zip(sectors.iterrows(), workers, strict=True):
        for _ in range(count):
            x, y = _xy(s.geometry)
            out.add(
                id=f"W{k + 1:03d}",
                kind=ResourceKind.GRID_WORKER,
                name_zh=names[k],
                phone=phones[k],
                serves_code=s["code"],
                x=x + 15 * k % 40,
                y=y,
            )
            k += 1
    # one stationed officer per level-2 grid, but for a few
    skip = set(rng.choice(len(grids), facts.GRIDS_WITHOUT_OFFICER, replace=False))
    names, phones = person_names(rng, len(grids)), phone_numbers(rng, len(grids))
    for i, (_, g) in enumerate(grids.iterrows()):
        if i in skip:
            continue
        x, y = _xy(g.geometry)
        out.add(
            id=f"O{i + 1:02d}",
            kind=ResourceKind.STATIONED_OFFICER,
            name_zh=names[i],
            phone=phones[i],
            serves_code=g["code"],
            x=x,
            y=y,
        )


def centroid_xy(geoms) -> np.ndarray:
    return shapely.get_coordinates(shapely.point_on_surface(geoms))
