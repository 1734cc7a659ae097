"""Typed settings, every knob overridable by a `GRIDMAP_*` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The checkout this package runs from (holds pyproject.toml); `.gridmap/` lives here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """What the service and the CLI read from the environment (prefix `GRIDMAP_`)."""

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="An external PostGIS (SQLAlchemy URL). Unset: the local cluster.",
    )
    home: Path = Field(
        default=PROJECT_ROOT / ".gridmap",
        description="Local cluster data, logs and caches.",
    )
    pg_port: int = Field(default=55432, description="Port of the local cluster (127.0.0.1 only).")
    host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    port: int = Field(default=8000, description="HTTP port.")
    tiles: str = Field(
        default="none",
        description="Basemap: none (offline), osm, tianditu, or an XYZ URL template.",
    )
    tianditu_key: str | None = Field(default=None, description="Key for the tianditu basemap.")

    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest request body (uploads included)."
    )
    max_polygon_vertices: int = Field(
        default=5000, description="Most vertices a submitted polygon may have."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (none: CORS closed)."
    )

    import_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Largest import file (CLI and API; the API is also held to max_body_bytes).",
    )
    page_limit: int = Field(default=1000, description="Most features one page of a list gives.")

    district_code: str = Field(default="620902", description="GB/T 2260 code of 肃州区.")
    street_code: str = Field(
        default="003", description="Three-digit code of 西北街街道 (assumption, not verified)."
    )
    households_per_worker_target: int = Field(
        default=300, description="Target households per grid worker (local practice 300-500)."
    )
    overdue_cases_limit: int = Field(
        default=5, description="Coverage flags a unit with more open overdue cases than this."
    )
    seed: int = Field(default=20211, description="Random seed of the synthetic dataset.")
    map_cache_dir: Path = Field(
        default=PROJECT_ROOT / "static" / "maps" / "cache",
        description="Generated map pages, keyed by parameters, audience and data version.",
    )
    map_cache_files: int = Field(
        default=500, description="Most cached map pages kept (oldest removed first)."
    )

    duplicate_radius_m: float = Field(
        default=50.0, gt=0, description="Radius (metres) of the duplicate hint for a new report."
    )
    duplicate_window_hours: float = Field(
        default=24.0, gt=0, description="Time window (hours) of the duplicate hint."
    )
    clock_skew_seconds: int = Field(
        default=120,
        ge=0,
        description="How far ahead of the server clock a device's timestamp may be.",
    )

    coverage_tolerance_m2: float = Field(
        default=1.0,
        description="Largest gap or overlap (m², EPSG:4542) a boundary change may leave; "
        "smaller slivers are cleaned up when the change is written.",
    )
    sector_min_area_m2: float = Field(
        default=50_000.0, description="Smallest grid sector a boundary change may create (m²)."
    )
    sector_max_area_m2: float = Field(
        default=4_000_000.0, description="Largest grid sector a boundary change may create (m²)."
    )
    rebalance_band: float = Field(
        default=0.10,
        description="Rebalancing aims at households per worker within this share of the target.",
    )

    evaluation_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "closed": 0.25,
            "closed_in_time": 0.30,
            "first_time_fixed": 0.20,
            "dispatched_in_time": 0.15,
            "extended": 0.10,
        },
        description="Weights of the evaluation's composite score, per rate (extended and "
        "sent_back enter as 1 − rate); JSON in the environment.",
    )
    evaluation_grade_bounds: list[float] = Field(
        default_factory=lambda: [90.0, 80.0, 70.0],
        description="Lowest score of grades A, B and C (below the last: D).",
    )
    evaluation_small_sample: int = Field(
        default=20,
        ge=1,
        description="Evaluation rows with fewer filed cases are marked small_sample, not ranked.",
    )

    @property
    def street_prefix(self) -> str:
        """The nine-digit prefix every unit code starts with, e.g. `620902003`."""
        return f"{self.district_code}{self.street_code}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
