"""`gridmap seed`: load the district (boundaries, then the synthetic population and two
years of incidents) in one transaction, deterministically for a given seed and end time.

    >>> report = seed(engine, scale=1)          # doctest: +SKIP
    >>> report.counts["households"]
    14268
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.cases.dispatch import assign_teams
from geo.core.bulk import copy_frame, ewkb_hex
from geo.core.errors import AlreadySeeded, InvalidInput
from geo.core.models import METRIC_SRID, SRID
from geo.core.settings import get_settings
from geo.core.tenancy import work_for
from geo.grid import facts
from geo.grid.attach import attach_points
from geo.grid.boundaries import load_boundary_files, read_layer
from geo.grid.streets import load_orientation_files
from geo.synth import city, governance, people, places
from geo.synth import incidents as incident_history

#: every table `seed --replace` empties (the schema, tokens and audit log stay)
DATA_TABLES = (
    "notifications",
    "deadline_sweeps",
    "webhook_deliveries",
    "action_replays",
    "plan_locks",
    "plan_edits",
    "plans",
    "boundary_changes",
    "case_requests",
    "incident_photos",
    "incident_events",
    "incidents",
    "residents",
    "households",
    "businesses",
    "resources",
    "courtyards",
    "units",
    "dataset_info",
    "streets",
    "landmarks",
)
STEPS = (
    "boundaries",
    "households and residents",
    "businesses",
    "governance resources",
    "incidents",
    "attach and dispatch",
)

Progress = Callable[[str], None]


@dataclass
class SeedReport:
    replaced: bool
    end: datetime
    counts: dict[str, int] = field(default_factory=dict)


def _points(frame: pd.DataFrame) -> np.ndarray:
    """WGS 84 points from metric x, y columns."""
    geoms = gpd.GeoSeries(shapely.points(frame["x"].values, frame["y"].values), crs=METRIC_SRID)
    return ewkb_hex(geoms.to_crs(SRID).values)


def _utc(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values), utc=True)


def _read_metric(sql: str, conn: Connection) -> gpd.GeoDataFrame:
    """A query's rows with their `geom` as the metric `geometry` column."""
    frame = gpd.read_postgis(sql, conn, geom_col="geom").rename_geometry("geometry")
    return frame.to_crs(METRIC_SRID)


def existing_counts(conn: Connection) -> dict[str, int]:
    return dict(
        conn.execute(
            text(
                "SELECT 'units', count(*) FROM units "
                "UNION ALL SELECT 'incidents', count(*) FROM incidents"
            )
        ).all()
    )


@dataclass
class _Layers:
    """What the later steps of the seed draw on: the units and the district outline, the
    streets and landmarks (EPSG:4542), and the people and places as they are written."""

    units: gpd.GeoDataFrame
    district: object
    streets: gpd.GeoDataFrame
    landmarks: gpd.GeoDataFrame
    yards: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    businesses: pd.DataFrame | None = None


def seed(
    engine: Engine,
    scale: float = 1.0,
    replace: bool = False,
    end: datetime | None = None,
    progress: Progress = lambda step: None,
    subdistricts: int = 1,
) -> SeedReport:
    """Load the whole district in one transaction. Refuses when data are present unless
    `replace`, which empties the data tables first. `end` (default: now, to the minute)
    is when the incident history stops. `subdistricts` > 1 then lays out a synthetic city
    of that many sub-districts around it (`geo.synth.city`), one transaction each."""
    if subdistricts < 1:
        raise InvalidInput(f"--subdistricts must be at least 1, got {subdistricts}")
    if scale <= 0:
        raise InvalidInput(f"--scale must be positive, got {scale}")
    settings = get_settings()
    end = (end or datetime.now(UTC)).replace(second=0, microsecond=0)
    report = SeedReport(replaced=False, end=end)
    with engine.begin() as conn:
        work_for(conn, settings.street_prefix)
        report.replaced = _empty_or_refuse(conn, replace)
        rng = [np.random.default_rng([settings.seed, k]) for k in range(8)]
        progress(STEPS[0])
        layers = _seed_boundaries(conn, end, report)
        progress(STEPS[1])
        _seed_people(conn, layers, end, rng, report)
        progress(STEPS[2])
        _seed_businesses(conn, layers, rng, report)
        progress(STEPS[3])
        _seed_resources(conn, layers, rng, report)
        progress(STEPS[4])
        _seed_incidents(conn, layers, scale, end, rng, report)
        progress(STEPS[5])
        attach_points(conn, "incidents")
        assign_teams(conn)
        conn.execute(
            text("INSERT INTO dataset_info (key, value) VALUES ('seed', CAST(:v AS jsonb))"),
            {
                "v": pd.Series(
                    {
                        "seed": settings.seed,
                        "scale": scale,
                        "end": end.isoformat(),
                        "counts": report.counts,
                    }
                ).to_json()
            },
        )
    if subdistricts > 1:
        report.counts["subdistricts"] = 1 + len(city.lay_out_city(engine, subdistricts, progress))
    # statistics for the planner now, not when autovacuum comes by: planned blind (a table
    # of "one row"), an as-of coverage of the fresh district ran into its 120 s timeout
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return report


def _empty_or_refuse(conn: Connection, replace: bool) -> bool:
    """Empty the data tables when `replace` (True), refuse when data are present without it,
    or do nothing on an empty database (False)."""
    have = existing_counts(conn)
    if not have["units"]:
        return False
    if not replace:
        raise AlreadySeeded(
            f"the district is already loaded ({have['units']} units, "
            f"{have['incidents']} incidents); nothing changed. Run `gridmap seed "
            "--replace` to reload it from scratch"
        )
    conn.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY"))
    conn.execute(text("ALTER SEQUENCE incident_seq RESTART"))
    return True


def _seed_boundaries(conn: Connection, end: datetime, report: SeedReport) -> _Layers:
    # the boundaries are in force over the whole history, so that statistics of any
    # past period can be computed on the boundaries valid then
    history_start = end - timedelta(days=facts.HISTORY_DAYS + 1)
    report.counts.update(load_boundary_files(conn, valid_from=history_start))
    report.counts.update(load_orientation_files(conn))
    units = _read_metric(
        "SELECT code, level, parent_code, name_zh, name_en, geom FROM units "
        "WHERE valid_to IS NULL ORDER BY code",
        conn,
    )
    return _Layers(
        units=units,
        district=units[units["level"] == "district"].geometry.iloc[0],
        streets=read_layer("streets").to_crs(METRIC_SRID),
        landmarks=read_layer("landmarks").to_crs(METRIC_SRID),
    )


def _seed_people(conn: Connection, layers: _Layers, end, rng, report: SeedReport) -> None:
    yards = _read_metric(
        "SELECT code, kind, name_zh, name_en, geom FROM courtyards "
        "WHERE valid_to IS NULL ORDER BY code",
        conn,
    )
    households = people.households(yards, rng[1])
    frame = households[["id", "address", "building", "unit_no", "room"]].copy()
    frame["geom"] = _points(households)
    frame["synthetic"] = True
    report.counts["households"] = copy_frame(conn, "households", frame)
    today = end.date() if isinstance(end, datetime) else date.today()
    residents = people.residents(households, today, get_settings().district_code, rng[2])
    report.counts["residents"] = copy_frame(conn, "residents", residents)
    layers.households = households


def _seed_businesses(conn: Connection, layers: _Layers, rng, report: SeedReport) -> None:
    shops = places.shops(layers.district, layers.streets, layers.landmarks, rng[3])
    firms = places.enterprises_and_institutions(layers.district, layers.landmarks, rng[4])
    businesses = pd.concat([shops, firms], ignore_index=True)
    frame = businesses[["id", "name_zh", "name_en", "kind", "category"]].copy()
    frame["geom"] = _points(businesses)
    frame["synthetic"] = True
    report.counts["businesses"] = copy_frame(conn, "businesses", frame)
    for table in ("households", "businesses"):
        attach_points(conn, table)
    layers.businesses = businesses


def _seed_resources(conn: Connection, layers: _Layers, rng, report: SeedReport) -> None:
    codes = pd.read_sql("SELECT id, courtyard_code, community_code FROM households", conn)
    layers.households = layers.households.merge(codes, on="id")
    codes = pd.read_sql("SELECT id, community_code FROM businesses", conn)
    layers.businesses = layers.businesses.merge(codes, on="id")
    layers.yards = _read_metric(
        "SELECT c.code, c.kind, c.name_zh, c.name_en, c.sector_code, c.community_code, "
        "c.geom, count(h.id) AS households FROM courtyards c LEFT JOIN households h "
        "ON h.courtyard_code = c.code WHERE c.valid_to IS NULL GROUP BY c.id ORDER BY c.code",
        conn,
    )
    resources, company_of = governance.resources(
        layers.units, layers.yards, layers.households, layers.businesses, layers.landmarks, rng[5]
    )
    frame = resources.drop(columns=["x", "y"])
    frame["geom"] = _points(resources)
    report.counts["resources"] = copy_frame(conn, "resources", frame)
    attach_points(conn, "resources")
    conn.execute(
        text(
            "UPDATE courtyards SET property_company_id = :company WHERE code = :code "
            "AND valid_to IS NULL"
        ),
        [{"code": c, "company": p} for c, p in company_of.items()],
    )


def _seed_incidents(conn: Connection, layers: _Layers, scale, end, rng, report) -> None:
    """The incident history: whole case lifecycles up to `end` (not new reports, so not
    through `geo.cases.intake`: their dispatch is part of the history written here; their
    teams are set by the same rule, `geo.cases.dispatch.assign_teams`, once attached)."""
    n = int(round(facts.INCIDENTS_PER_SCALE * scale))
    end64 = np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "s")
    categories = pd.read_sql("SELECT * FROM incident_categories", conn)
    anchors = _anchors(
        layers.streets, layers.landmarks, layers.yards, layers.households, layers.businesses
    )
    incidents, events = incident_history.incidents(
        n, end64, facts.HISTORY_DAYS, anchors, layers.district, categories, rng[6]
    )
    frame = incidents.drop(columns=["x", "y"])
    for col in (
        "observed_at",
        "reported_at",
        "dispatch_due_at",
        "due_at",
        "dispatched_at",
        "resolved_at",
        "closed_at",
    ):
        frame[col] = _utc(frame[col].values)
    frame["geom"] = _points(incidents)
    report.counts["incidents"] = copy_frame(conn, "incidents", frame)
    events["at"] = _utc(events["at"].values)
    report.counts["incident_events"] = copy_frame(conn, "incident_events", events)
    conn.execute(text("SELECT setval('incident_seq', :n)"), {"n": max(n, 1)})


def _anchors(streets, landmarks, yards, households, businesses) -> incident_history.Anchors:
    def xy(geoms) -> np.ndarray:
        return shapely.get_coordinates(shapely.point_on_surface(np.asarray(geoms)))

    arterial = streets[streets["arterial"]].geometry.values
    crossings = shapely.get_coordinates(
        shapely.intersection_all([shapely.union_all(arterial[:2]), shapely.union_all(arterial[2:])])
    )
    every = shapely.get_coordinates(
        shapely.union_all(
            [
                shapely.intersection(a, b)
                for i, a in enumerate(streets.geometry)
                for b in streets.geometry[i + 1 :]
            ]
        )
    )
    weight = yards["households"].to_numpy(float) + 5.0
    by_kind = {k: xy(g.geometry.values) for k, g in landmarks.groupby("kind")}
    shops = businesses[businesses["kind"] == "shop"]
    firms = businesses[businesses["kind"] == "enterprise"]
    return incident_history.Anchors(
        market=by_kind["market"],
        crossing=np.vstack([crossings, every]),
        school=by_kind["school"],
        courtyard=xy(yards.geometry.values),
        courtyard_weight=weight / weight.sum(),
        shop=shops[["x", "y"]].to_numpy(),
        household=households[["x", "y"]].to_numpy(),
        enterprise=firms[["x", "y"]].to_numpy(),
        centre=by_kind["office"],
        building_site=by_kind["site"][0],
    )
