"""Two years of incidents with real structure, and their case histories.

Structure: each category draws its places from a mixture of anchors (markets, main
crossings, schools, courtyards by population, shops, enterprises) and its times from a
seasonal curve, a weekday factor and an hourly profile (evening peaks for disputes, rush
hours for traffic, winter for heating hazards, summer for sanitation). A new hotspot
appears in the last four weeks near a building site, for the comparison view to find.
Lifecycles run against each category's time limits: most cases are verified in time, some
late, a few stuck open and overdue, some rejected or marked duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.cases.deadlines import LOCAL_OFFSET, dispatch_due_at, due_at
from geo.synth.names import phone_numbers
from geo.synth.sampling import jitter_inside, points_in

#: share of all incidents per category
MIX = {
    "public_security": 0.10,
    "dispute": 0.16,
    "key_population": 0.03,
    "work_safety": 0.06,
    "safety_hazard": 0.14,
    "environment": 0.06,
    "sanitation": 0.20,
    "public_service": 0.17,
    "epidemic": 0.03,
    "traffic": 0.05,
}
#: where each category happens: anchor kind → weight
PLACES = {
    "public_security": {"market": 0.3, "crossing": 0.2, "courtyard": 0.3, "anywhere": 0.2},
    "dispute": {"courtyard": 0.7, "market": 0.15, "shop": 0.15},
    "key_population": {"household": 1.0},
    "work_safety": {"enterprise": 0.7, "shop": 0.3},
    "safety_hazard": {"courtyard": 0.5, "shop": 0.4, "anywhere": 0.1},
    "environment": {"enterprise": 0.5, "anywhere": 0.5},
    "sanitation": {"market": 0.35, "courtyard": 0.35, "shop": 0.3},
    "public_service": {"household": 0.8, "centre": 0.2},
    "epidemic": {"courtyard": 0.6, "market": 0.4},
    "traffic": {"crossing": 0.5, "school": 0.4, "anywhere": 0.1},
}
#: spread around an anchor, metres
SPREAD = {
    "market": 70.0,
    "crossing": 35.0,
    "school": 45.0,
    "courtyard": 25.0,
    "shop": 8.0,
    "household": 3.0,
    "enterprise": 40.0,
    "centre": 20.0,
}
#: seasonal peak day of year and amplitude (0 = flat)
SEASON = {
    "sanitation": (170, 0.6),
    "environment": (190, 0.4),
    "safety_hazard": (15, 0.5),
    "epidemic": (20, 0.6),
    "traffic": (250, 0.2),
    "dispute": (30, 0.15),
}
DESCRIPTIONS = {
    "public_security": ["夜间有人聚集喧哗", "电动车被盗", "可疑人员徘徊"],
    "dispute": ["邻里噪音纠纷", "物业费纠纷", "楼上漏水引发纠纷", "家庭矛盾"],
    "key_population": ["重点人员走访", "重点人员动态核查"],
    "work_safety": ["施工未设安全防护", "仓库消防通道堵塞", "员工未佩戴安全帽"],
    "safety_hazard": ["楼道堆放杂物", "燃气管道老化", "电动车楼道充电", "井盖破损"],
    "environment": ["餐饮油烟扰民", "工地扬尘", "违规焚烧垃圾"],
    "sanitation": ["垃圾未及时清运", "路面积水", "绿化带杂物", "小广告乱贴"],
    "public_service": ["咨询养老补贴", "办理居住证明", "路灯不亮", "求助就医"],
    "epidemic": ["发热人员报告", "返乡人员登记"],
    "traffic": ["校门口车辆乱停", "路口拥堵", "占道经营影响通行"],
}


def _hourly(category: str) -> np.ndarray:
    h = np.arange(24)
    day = np.exp(-0.5 * ((h - 13) / 4.0) ** 2)
    profiles = {
        "dispute": np.exp(-0.5 * ((h - 20) / 2.0) ** 2) + 0.3 * day,
        "public_security": np.exp(-0.5 * ((h - 22) / 2.5) ** 2) + 0.3 * day + 0.1,
        "traffic": np.exp(-0.5 * ((h - 8) / 1.0) ** 2) + np.exp(-0.5 * ((h - 18) / 1.2) ** 2),
    }
    p = profiles.get(category, day + 0.02)
    return p / p.sum()


def _day_weights(category: str, start_local: np.datetime64, days: int) -> np.ndarray:
    dates = start_local.astype("datetime64[D]") + np.arange(days)
    doy = (dates - dates.astype("datetime64[Y]")).astype(int)
    peak, amplitude = SEASON.get(category, (0, 0.0))
    season = 1.0 + amplitude * np.cos(2 * np.pi * (doy - peak) / 365.25)
    weekday = (dates.astype(int) + 3) % 7  # 0 = Monday
    week = np.where(weekday >= 5, 0.75 if category != "dispute" else 1.2, 1.0)
    trend = np.linspace(0.9, 1.1, days)  # slowly more reports as the grid matures
    w = season * week * trend
    return w / w.sum()


@dataclass
class Anchors:
    """Metric (x, y) arrays of the places incidents gather around, with weights."""

    market: np.ndarray
    crossing: np.ndarray
    school: np.ndarray
    courtyard: np.ndarray
    courtyard_weight: np.ndarray
    shop: np.ndarray
    household: np.ndarray
    enterprise: np.ndarray
    centre: np.ndarray
    building_site: np.ndarray


def incidents(
    n: int,
    end_utc: np.datetime64,
    history_days: int,
    anchors: Anchors,
    district,
    categories: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`n` incidents (metric x, y) and their events, ending at `end_utc`.

    `categories` is the incident_categories table (code, dispatch_minutes, close_minutes,
    close_working_days)."""
    codes = list(MIX)
    recent = int(n * 0.02)  # the new hotspot of the last four weeks
    cat = np.concatenate(
        [
            rng.choice(len(codes), size=n - recent, p=list(MIX.values())),
            rng.choice([codes.index("sanitation"), codes.index("safety_hazard")], size=recent),
        ]
    )
    start_local = (end_utc + LOCAL_OFFSET).astype("datetime64[D]") - np.timedelta64(
        history_days, "D"
    )
    observed = np.empty(n, dtype="datetime64[s]")
    xy = np.empty((n, 2))
    for ci, code in enumerate(codes):
        idx = np.flatnonzero(cat[: n - recent] == ci)
        day = rng.choice(
            history_days, size=len(idx), p=_day_weights(code, start_local, history_days)
        )
        hour = rng.choice(24, size=len(idx), p=_hourly(code))
        observed[idx] = (start_local + day.astype("timedelta64[D]")).astype("datetime64[s]") + (
            hour * 3600 + rng.integers(0, 3600, len(idx))
        ).astype("timedelta64[s]")
        xy[idx] = _places(code, len(idx), anchors, district, rng)
    tail = np.arange(n - recent, n)
    hours_back = rng.uniform(0, 28 * 24, recent)
    observed[tail] = (end_utc + LOCAL_OFFSET - (hours_back * 3600).astype("timedelta64[s]")).astype(
        "datetime64[s]"
    )
    xy[tail] = jitter_inside(
        np.repeat(anchors.building_site[None, :], recent, axis=0), 60.0, district, rng
    )
    observed = observed - LOCAL_OFFSET  # to UTC
    observed = np.minimum(observed, end_utc - np.timedelta64(20, "m"))
    reported = observed + (rng.lognormal(np.log(15), 0.8, n) * 60).astype("timedelta64[s]")
    reported = np.minimum(reported, end_utc - np.timedelta64(1, "m"))

    order = np.argsort(reported, kind="stable")
    cat, observed, reported, xy = cat[order], observed[order], reported[order], xy[order]
    limits = categories.set_index("code").loc[[codes[c] for c in cat]]
    dispatch_min = limits["dispatch_minutes"].to_numpy(float)
    close_min = limits["close_minutes"].to_numpy(float)
    close_days = limits["close_working_days"].to_numpy(float)
    window_min = np.where(np.isnan(close_min), close_days * 24 * 60, close_min)
    frame = pd.DataFrame(
        {
            "id": [f"I{i:010d}" for i in range(1, n + 1)],
            "category": [codes[c] for c in cat],
            "observed_at": observed,
            "reported_at": reported,
            "dispatch_due_at": dispatch_due_at(reported, dispatch_min),
            "due_at": due_at(reported, close_min, close_days),
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
    frame["description"] = [
        DESCRIPTIONS[c][i % len(DESCRIPTIONS[c])] for i, c in enumerate(frame["category"])
    ]
    frame["reporter_contact"] = np.where(rng.random(n) < 0.3, phone_numbers(rng, n), None)
    return _lifecycle(frame, end_utc, dispatch_min, window_min, rng)


def _places(code: str, k: int, a: Anchors, district, rng) -> np.ndarray:
    kinds = list(PLACES[code])
    which = rng.choice(len(kinds), size=k, p=list(PLACES[code].values()))
    out = np.empty((k, 2))
    for wi, kind in enumerate(kinds):
        idx = np.flatnonzero(which == wi)
        if kind == "anywhere":
            out[idx] = points_in(district, len(idx), rng)
            continue
        pool = getattr(a, kind)
        p = a.courtyard_weight if kind == "courtyard" else None
        base = pool[rng.choice(len(pool), size=len(idx), p=p)]
        out[idx] = jitter_inside(base, SPREAD[kind], district, rng)
    return out


def _minutes(values: np.ndarray) -> np.ndarray:
    return (values * 60).astype("timedelta64[s]")


#: the event of each stage a case reached: (its time, actor, kind, from, to, note)
_STAGE_EVENTS = (
    ("dispatched", "system", "dispatch", "reported", "dispatched", "按网格自动派遣"),
    ("accepted", "seed:grid_worker", "transition", "dispatched", "in_progress", "已接单"),
    ("resolved", "seed:grid_worker", "transition", "in_progress", "resolved", "已处置"),
    ("verified", "seed:supervisor", "transition", "resolved", "verified", "核查结案"),
)


def _history(f: pd.DataFrame, times: dict, reached) -> pd.DataFrame:
    """The events of the cases `f`: report, each stage reached, rejection or duplicate."""
    everyone = np.ones(len(f), bool)
    reported = times["reported"]
    events = [_events(f, everyone, reported, "seed:patrol", "report", None, "reported", "上报")]
    for time, actor, kind, from_status, to_status, note in _STAGE_EVENTS:
        mask = reached(times[time])
        events.append(_events(f, mask, times[time], actor, kind, from_status, to_status, note))
    for to_status, note in (("rejected", "不属于受理范围"), ("duplicate", None)):
        mask = f["status"].values == to_status
        at = times["screened"]
        events.append(
            _events(f, mask, at, "seed:supervisor", "transition", "reported", to_status, note)
        )
    ev = pd.concat(events, ignore_index=True)
    dup = ev["to_status"] == "duplicate"
    ev.loc[dup, "note"] = (
        "重复上报: "
        + f.set_index("id").loc[ev.loc[dup, "incident_id"], "duplicate_of"].astype(str).values
    )
    return ev


def _lifecycle(
    f: pd.DataFrame, end: np.datetime64, dispatch_min: np.ndarray, window_min: np.ndarray, rng
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage times drawn against the limits; the status is the last stage reached by `end`."""
    n = len(f)
    rep = f["reported_at"].values.astype("datetime64[s]")
    fate = rng.random(n)
    rejected, duplicate = fate < 0.02, (fate >= 0.02) & (fate < 0.04)
    dispatched = rep + _minutes(rng.lognormal(np.log(0.3 * dispatch_min), 0.9))
    # verified at a lognormal share of the limit (median 45 %; about 5 % late)
    verified = rep + _minutes(window_min * rng.lognormal(np.log(0.45), 0.5, n))
    verified = np.maximum(verified, dispatched + np.timedelta64(20, "m"))
    span = (verified - dispatched).astype(float)
    accepted = dispatched + (span * rng.uniform(0.05, 0.2, n)).astype("timedelta64[s]")
    resolved = dispatched + (span * rng.uniform(0.6, 0.9, n)).astype("timedelta64[s]")
    stuck = (rng.random(n) < 0.004) & (rep < end - np.timedelta64(7, "D"))
    resolved = np.where(stuck, np.datetime64("NaT"), resolved)
    verified = np.where(stuck, np.datetime64("NaT"), verified)
    screened = rep + _minutes(rng.lognormal(np.log(30), 0.6, n))
    closed_early = rejected | duplicate

    def reached(t):
        return ~np.isnat(t) & (t <= end) & ~closed_early

    status = np.full(n, "reported", dtype=object)
    for stage, t in (
        ("dispatched", dispatched),
        ("in_progress", accepted),
        ("resolved", resolved),
        ("verified", verified),
    ):
        status[reached(t)] = stage
    screened_by_end = screened <= end
    status[rejected & screened_by_end] = "rejected"
    status[duplicate & screened_by_end] = "duplicate"
    f["status"] = status
    f["dispatched_at"] = np.where(reached(dispatched), dispatched, np.datetime64("NaT"))
    f["resolved_at"] = np.where(reached(resolved), resolved, np.datetime64("NaT"))
    f["closed_at"] = np.where(
        reached(verified),
        verified,
        np.where(closed_early & screened_by_end, screened, np.datetime64("NaT")),
    )
    # a duplicate points at the previous report of its category
    prev = f.groupby("category")["id"].shift(1)
    f["duplicate_of"] = np.where((status == "duplicate") & prev.notna(), prev, None)
    f.loc[(f["status"] == "duplicate") & f["duplicate_of"].isna(), "status"] = "rejected"
    f["source"] = "seed"
    f["synthetic"] = True

    times = {"reported": rep, "dispatched": dispatched, "accepted": accepted}
    times |= {"resolved": resolved, "verified": verified, "screened": screened}
    ev = _history(f, times, reached)
    return f, ev


def _events(f, mask, at, actor, kind, from_status, to_status, note) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incident_id": f["id"].values[mask],
            "at": np.asarray(at)[mask],
            "actor": actor,
            "kind": kind,
            "from_status": from_status,
            "to_status": to_status,
            "note": note,
        }
    )
