"""Shops along the streets and around the markets; enterprises and public institutions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.core.terms import BusinessKind
from geo.grid import facts
from geo.synth.sampling import jitter_inside, points_in

#: (zh suffixes, en, weight) of shop categories
SHOP_CATEGORIES = {
    "餐饮": (["面馆", "饭店", "小吃", "火锅店"], "Restaurant", 0.26),
    "零售": (["商店", "便利店", "百货"], "Shop", 0.22),
    "超市": (["超市"], "Supermarket", 0.06),
    "美容美发": (["理发店", "美容院"], "Salon", 0.09),
    "维修": (["维修部", "修车行"], "Repairs", 0.07),
    "药店": (["大药房"], "Pharmacy", 0.04),
    "建材": (["建材店", "五金店"], "Hardware", 0.07),
    "服装": (["服装店", "鞋店"], "Clothing", 0.10),
    "通讯": (["手机店"], "Mobile Phones", 0.04),
    "住宿": (["宾馆"], "Guesthouse", 0.05),
}
SHOP_WORDS = [
    ("老王", "Lao Wang"),
    ("鑫源", "Xinyuan"),
    ("福满", "Fuman"),
    ("顺达", "Shunda"),
    ("好运", "Haoyun"),
    ("丝路", "Silu"),
    ("天天", "Tiantian"),
    ("惠民", "Huimin"),
    ("金河", "Jinhe"),
    ("西北", "Xibei"),
    ("祁连", "Qilian"),
    ("阳关", "Yangguan"),
    ("家乐", "Jiale"),
    ("康宁", "Kangning"),
    ("兴隆", "Xinglong"),
    ("瑞丰", "Ruifeng"),
    ("聚福", "Jufu"),
    ("益民", "Yimin"),
    ("长城", "Changcheng"),
    ("酒泉", "Jiuquan"),
]
#: where shops are: along arterials, around the markets, along other streets
SHOP_MIX = {"arterial": 0.55, "market": 0.20, "street": 0.25}

ENTERPRISE_NAMES = [
    ("酒泉祁连建筑工程有限公司", "Qilian Construction Engineering Co."),
    ("酒泉金河商贸有限公司", "Jinhe Trading Co."),
    ("肃州区西北街农机配件厂", "Xibeijie Farm Machinery Parts Plant"),
    ("酒泉丝路物流有限公司", "Silu Logistics Co."),
    ("酒泉鑫源食品有限公司", "Xinyuan Foods Co."),
    ("酒泉阳关汽车维修有限公司", "Yangguan Auto Repair Co."),
    ("酒泉恒通建材有限公司", "Hengtong Building Materials Co."),
    ("酒泉新城房地产开发有限公司", "Xincheng Real Estate Development Co."),
    ("酒泉瑞丰印刷有限公司", "Ruifeng Printing Co."),
    ("酒泉天诚供热有限公司", "Tiancheng Heating Co."),
    ("酒泉宏达混凝土有限公司", "Hongda Concrete Co."),
    ("酒泉绿源环保科技有限公司", "Lvyuan Environmental Technology Co."),
    ("酒泉兴隆酒店管理有限公司", "Xinglong Hotel Management Co."),
    ("酒泉顺达运输有限公司", "Shunda Transport Co."),
    ("互联网商贸城运营有限公司", "Internet Trade City Operations Co."),
]
INSTITUTION_NAMES = [
    ("肃州区疾病预防控制中心", "Suzhou District CDC"),
    ("肃州区图书馆", "Suzhou District Library"),
    ("西北街社区卫生服务中心", "Xibeijie Community Health Centre"),
    ("肃州区文化馆", "Suzhou District Cultural Centre"),
    ("肃州区不动产登记中心", "Suzhou District Real Estate Registry"),
    ("肃州区供水服务站", "Suzhou District Water Service Station"),
    ("肃州区老年活动中心", "Suzhou District Seniors' Centre"),
    ("酒泉市气象服务中心", "Jiuquan Meteorological Service Centre"),
]


def _along(lines: gpd.GeoSeries, n: int, district, rng: np.random.Generator) -> np.ndarray:
    """`n` points inside `district` beside `lines` (chosen by length), 12-30 m off the
    centre line, on the side of the street that lies inside the district."""
    lengths = lines.length.values
    found = np.empty((0, 2))
    while len(found) < n:
        k = int((n - len(found)) * 1.3) + 8
        geoms = lines.values[rng.choice(len(lines), size=k, p=lengths / lengths.sum())]
        at = rng.uniform(0, 1, k) * shapely.length(geoms)
        here = shapely.get_coordinates(shapely.line_interpolate_point(geoms, at))
        ahead = shapely.get_coordinates(shapely.line_interpolate_point(geoms, at + 5.0))
        direction = ahead - here
        norm = np.hypot(direction[:, 0], direction[:, 1])
        norm[norm == 0] = 1.0
        normal = np.column_stack([-direction[:, 1], direction[:, 0]]) / norm[:, None]
        offset = normal * (rng.choice([-1.0, 1.0], size=k) * rng.uniform(12, 30, k))[:, None]
        xy = here + offset
        outside = ~shapely.contains_xy(district, xy[:, 0], xy[:, 1])
        xy[outside] = here[outside] - offset[outside]
        inside = shapely.contains_xy(district, xy[:, 0], xy[:, 1])
        found = np.vstack([found, xy[inside]])
    return found[:n]


def shops(
    district, streets: gpd.GeoDataFrame, landmarks: gpd.GeoDataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Exactly `facts.SHOPS` shops (metric x, y), denser on arterials and at the markets."""
    counts = rng.multinomial(facts.SHOPS, list(SHOP_MIX.values()))
    arterial = streets[streets["arterial"]].geometry
    other = streets[~streets["arterial"]].geometry
    markets = shapely.get_coordinates(landmarks[landmarks["kind"] == "market"].geometry.values)
    around = markets[rng.integers(0, len(markets), counts[1])]
    xy = np.vstack(
        [
            _along(arterial, counts[0], district, rng),
            jitter_inside(around, 110.0, district, rng),
            _along(other, counts[2], district, rng),
        ]
    )
    cats = list(SHOP_CATEGORIES)
    cat = rng.choice(len(cats), size=facts.SHOPS, p=[SHOP_CATEGORIES[c][2] for c in cats])
    word = rng.integers(0, len(SHOP_WORDS), facts.SHOPS)
    names_zh, names_en, category = [], [], []
    for i in range(facts.SHOPS):
        suffixes, en, _ = SHOP_CATEGORIES[cats[cat[i]]]
        names_zh.append(SHOP_WORDS[word[i]][0] + suffixes[i % len(suffixes)])
        names_en.append(f"{SHOP_WORDS[word[i]][1]} {en}")
        category.append(cats[cat[i]])
    return pd.DataFrame(
        {
            "id": [f"S{i:05d}" for i in range(1, facts.SHOPS + 1)],
            "name_zh": names_zh,
            "name_en": names_en,
            "kind": BusinessKind.SHOP.value,
            "category": category,
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )


def enterprises_and_institutions(
    district, landmarks: gpd.GeoDataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """The 27 enterprises and institutions: schools and the hospital at their landmarks,
    the rest scattered, enterprises more often on the quieter north side."""
    n_inst = facts.ENTERPRISES_AND_INSTITUTIONS - facts.ENTERPRISES
    fixed = landmarks[landmarks["kind"].isin(["school", "hospital"])]
    rows = []
    for _, lm in fixed.iterrows():
        rows.append(
            (
                lm["name_zh"],
                lm["name_en"],
                BusinessKind.INSTITUTION,
                "教育卫生",
                lm.geometry.x,
                lm.geometry.y,
            )
        )
    minx, miny, maxx, maxy = district.bounds
    north = district.intersection(shapely.box(minx, (miny + maxy) / 2, maxx, maxy))
    for zh, en in INSTITUTION_NAMES[: n_inst - len(rows)]:
        x, y = points_in(district, 1, rng)[0]
        rows.append((zh, en, BusinessKind.INSTITUTION, "公共服务", x, y))
    for zh, en in ENTERPRISE_NAMES[: facts.ENTERPRISES]:
        x, y = points_in(north if rng.random() < 0.6 else district, 1, rng)[0]
        rows.append((zh, en, BusinessKind.ENTERPRISE, "企业", x, y))
    frame = pd.DataFrame(rows, columns=["name_zh", "name_en", "kind", "category", "x", "y"])
    frame["kind"] = frame["kind"].map(lambda k: k.value)
    frame.insert(0, "id", [f"E{i:03d}" for i in range(1, len(frame) + 1)])
    return frame
