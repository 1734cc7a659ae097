"""Households in the courtyards' buildings and the residents of each household."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.core.terms import CourtyardKind
from geo.grid import facts
from geo.synth.names import id_numbers, person_names, phone_numbers
from geo.synth.sampling import jitter_inside, points_in

#: households per m² of courtyard, relative: compounds are dense, rental yards sparse
DENSITY = {CourtyardKind.MANAGED: 1.0, CourtyardKind.SCATTERED: 0.6, CourtyardKind.RENTAL: 0.3}
UNITS_PER_BUILDING, FLOORS, ROOMS_PER_FLOOR = 2, 6, 2
HOUSEHOLDS_PER_BUILDING = UNITS_PER_BUILDING * FLOORS * ROOMS_PER_FLOOR


def households(courtyards: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Exactly `facts.HOUSEHOLDS` households spread over `courtyards` (metric CRS) by
    area and kind; columns id, courtyard, address, building, unit_no, room, x, y."""
    weight = courtyards.geometry.area.values * courtyards["kind"].map(DENSITY).values
    per_yard = rng.multinomial(facts.HOUSEHOLDS, weight / weight.sum())
    frames = []
    for (_, yard), n in zip(courtyards.iterrows(), per_yard, strict=True):
        if n == 0:
            continue
        buildings = -(-n // HOUSEHOLDS_PER_BUILDING)
        inner = yard.geometry.buffer(-12.0)
        centres = points_in(inner if not inner.is_empty else yard.geometry, buildings, rng)
        slot = np.arange(n)
        b = slot // HOUSEHOLDS_PER_BUILDING
        within = slot % HOUSEHOLDS_PER_BUILDING
        unit_no = within // (FLOORS * ROOMS_PER_FLOOR) + 1
        floor = (within // ROOMS_PER_FLOOR) % FLOORS + 1
        room = floor * 100 + within % ROOMS_PER_FLOOR + 1
        xy = jitter_inside(centres[b], 4.0, yard.geometry, rng)
        frames.append(
            pd.DataFrame(
                {
                    "courtyard": yard["code"],
                    "address": [
                        f"{yard['name_zh']}{bb + 1}号楼{u}单元{r}室"
                        for bb, u, r in zip(b, unit_no, room, strict=True)
                    ],
                    "building": (b + 1).astype(str),
                    "unit_no": unit_no.astype(str),
                    "room": room.astype(str),
                    "x": xy[:, 0],
                    "y": xy[:, 1],
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "id", [f"H{i:06d}" for i in range(1, len(out) + 1)])
    return out


def residents(
    households: pd.DataFrame, today: date, region: str, rng: np.random.Generator
) -> pd.DataFrame:
    """Exactly `facts.RESIDENTS` people in `households`; the head's surname passes to the
    children. Columns as the residents table."""
    n_hh = len(households)
    size = 1 + rng.multinomial(facts.RESIDENTS - n_hh, np.full(n_hh, 1.0 / n_hh))
    hh_index = np.repeat(np.arange(n_hh), size)
    member = np.arange(len(hh_index)) - np.repeat(np.cumsum(size) - size, size)
    relation = np.select([member == 0, member == 1], ["户主", "配偶"], "子女")
    n = len(hh_index)
    male = rng.random(n) < 0.5
    head_age = rng.integers(24, 82, size=n_hh)
    age = np.where(
        member == 0,
        head_age[hh_index],
        np.where(
            member == 1,
            head_age[hh_index] + rng.integers(-5, 6, size=n),
            head_age[hh_index] - rng.integers(22, 36, size=n),
        ),
    )
    age = np.clip(age, 0, 95)
    born = np.datetime64(today, "D") - (age * 365.25).astype(int) - rng.integers(0, 365, size=n)
    names = person_names(rng, n)
    head_surname = np.array([s[0] for s in names])[np.cumsum(size) - size][hh_index]
    names = np.where(
        relation == "子女",
        np.char.add(head_surname, np.char.lstrip(np.array([s[1:] for s in names]))),
        names,
    )
    phone = np.where(age >= 14, phone_numbers(rng, n), None)
    return pd.DataFrame(
        {
            "id": [f"R{i:06d}" for i in range(1, n + 1)],
            "household_id": households["id"].values[hh_index],
            "name": names,
            "gender": np.where(male, "M", "F"),
            "birth_date": born.astype(str),
            "relation": relation,
            "phone": phone,
            "id_number": id_numbers(region, born, male, rng),
            "synthetic": True,
        }
    )
