"""Typed settings, every knob overridable by a `GRIDMAP_*` environment variable."""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The checkout this package runs from (holds pyproject.toml); `.gridmap/` lives here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    map_cache_dir: Path | None = Field(
        default=None,  # filled in by _private_map_cache: GRIDMAP_HOME/map-cache
        description="Generated map pages, keyed by parameters, audience and data version "
        "(default: map-cache/ in GRIDMAP_HOME; never under the public static/ folder).",
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
    compactness_min: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="The boundary preview warns of a sector whose Polsby–Popper compactness "
        "(4πA/P², EPSG:4542) would fall below this (1 a disc, 0.785 a square).",
    )

    # -- running it for real: logs, sub-path, compression, backups (issue 22) ----------
    log_level: str = Field(
        default="INFO",
        pattern="(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Level of the JSON log lines on stderr: DEBUG, INFO, WARNING, ERROR.",
    )
    root_path: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~-]+)*/?$",
        description="The sub-path the service is served under behind a proxy, e.g. /gridmap "
        "(empty: at /); links, redirects and assets carry it.",
    )
    gzip_min_bytes: int = Field(
        default=1024,
        ge=0,
        description="Answers at least this large are gzip-compressed for clients that accept it.",
    )

    # accounts and sessions (issue 17)
    session_idle_minutes: int = Field(
        default=60, gt=0, description="A sign-in session ends after this many idle minutes."
    )
    session_max_hours: int = Field(
        default=12, gt=0, description="A sign-in session ends this many hours after sign-in."
    )
    password_min_length: int = Field(
        default=10, ge=8, description="Shortest password a person may choose."
    )
    token_max_days: int = Field(
        default=365, gt=0, description="Longest lifetime of a personal access token (days)."
    )
    throttle_window_seconds: int = Field(
        default=900, gt=0, description="Window over which failed sign-ins and bad tokens count."
    )
    login_failures_per_account: int = Field(
        default=5, gt=0, description="Failed sign-ins of one account in the window before 429."
    )
    login_failures_per_address: int = Field(
        default=20, gt=0, description="Failed sign-ins from one address in the window before 429."
    )
    token_failures_per_address: int = Field(
        default=30, gt=0, description="Bad tokens from one address in the window before 429."
    )

    # -- robustness (issue 15): bounded reports, decompression limits, database timeouts --
    import_max_problems: int = Field(
        default=1000,
        ge=1,
        description="Most problems an import report lists (JSON, CSV and errors; totals are "
        "always given).",
    )
    import_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Most rows (features) an import file may hold; checked before reading them.",
    )
    import_max_uncompressed_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1,
        description="Largest total uncompressed size of an XLSX workbook or a zipped "
        "Shapefile, checked before unpacking it.",
    )
    db_connect_timeout_s: int = Field(
        default=5, ge=1, description="Seconds the service waits to connect to the database."
    )
    db_statement_timeout_s: int = Field(
        default=120,
        ge=0,
        description="Seconds one SQL statement of the service may run (0: no limit).",
    )
    db_watch_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between the service's database liveness checks; a database that "
        "does not answer within the connect timeout makes requests answer 503 at once.",
    )
    db_retry_after_s: int = Field(
        default=10, ge=1, description="Retry-After (seconds) of a 503 while the database is down."
    )

    # -- the case desk: photos (issue 18) --
    photo_max_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest photo upload, in bytes."
    )
    photo_max_pixels: int = Field(
        default=40_000_000, description="Most pixels (width × height) a photo may have."
    )
    photo_max_side: int = Field(
        default=2048, description="Stored photos are scaled down to this longest side, in px."
    )
    photo_thumb_side: int = Field(default=320, description="Longest side of a thumbnail, px.")
    photos_per_case: int = Field(default=12, description="Most photos one case may carry.")

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

    # the field app: notifications and webhooks (geo/notify/)
    notify_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between the deadline sweeps (due within the hour, overdue).",
    )
    notify_due_soon_minutes: int = Field(
        default=60, ge=1, description="A case due within this many minutes is notified once."
    )
    notify_stream_seconds: int = Field(
        default=300,
        ge=1,
        description="Longest life of one notification stream (SSE); the browser reconnects.",
    )
    webhook_retry_base_s: float = Field(
        default=30.0, gt=0, description="Wait before the first retry of a failed webhook post."
    )
    webhook_retry_max_s: float = Field(
        default=3600.0, gt=0, description="Longest wait between retries (the backoff's cap)."
    )
    webhook_max_attempts: int = Field(
        default=10, ge=1, description="Attempts before a webhook delivery is given up (failed)."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one post.")
    webhook_poll_s: float = Field(
        default=2.0, gt=0, description="Seconds between the webhook sender's looks at the outbox."
    )
    public_url: str = Field(
        default="",
        description="The service's address as people open it (links in webhook messages).",
    )

    # -- the read replica (issue 23): a hot standby that answers read-only work ----------
    replica_port: int | None = Field(
        default=None,
        description="Port of the local read replica (127.0.0.1 only; default: "
        "GRIDMAP_PG_PORT + 1).",
    )
    read_database_url: str | None = Field(
        default=None,
        description="A read replica (SQLAlchemy URL): read-only work goes there, writes and "
        "a person's reads until the replica has their write go to the primary. Unset: all "
        "on the primary.",
    )
    replica_connect_timeout_s: int = Field(
        default=2, ge=1, description="Seconds the service waits to connect to the read replica."
    )
    replica_retry_s: float = Field(
        default=10.0,
        gt=0,
        description="After the read replica fails, reads go to the primary for this many "
        "seconds before the replica is tried again.",
    )

    @model_validator(mode="after")
    def _private_map_cache(self) -> Settings:
        """Cached map pages are data: kept under GRIDMAP_HOME unless set, and never where
        the public /static mount would serve them."""
        if self.map_cache_dir is None:
            self.map_cache_dir = self.home / "map-cache"
        public = (PROJECT_ROOT / "static").resolve()
        if self.map_cache_dir.resolve().is_relative_to(public):
            raise ValueError(
                f"GRIDMAP_MAP_CACHE_DIR={self.map_cache_dir} lies under the public static/ "
                "folder; cached map pages are data: put them elsewhere (default: "
                "map-cache/ in GRIDMAP_HOME)"
            )
        return self

    @property
    def local_replica_port(self) -> int:
        """The local read replica's port: GRIDMAP_REPLICA_PORT, else GRIDMAP_PG_PORT + 1."""
        return self.replica_port or self.pg_port + 1

    @property
    def street_prefix(self) -> str:
        """The nine-digit prefix every unit code starts with, e.g. `620902003`."""
        return f"{self.district_code}{self.street_code}"


class _ReadOnce:
    """The process-wide settings, read once from the environment. `cache_clear()` (tests
    and commands that change a `GRIDMAP_*` variable) forgets them; settings that a
    background thread began reading before a clear are returned to it but never kept
    (a plain `lru_cache` kept them: the CI once served a test's requests from the
    session's database, read by the session service's notification thread)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._generation = 0
        self._lock = threading.Lock()

    def __call__(self) -> Settings:
        settings = self._settings
        if settings is None:
            generation = self._generation
            settings = Settings()
            with self._lock:
                if generation == self._generation:
                    self._settings = settings
        return settings

    def cache_clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._settings = None


get_settings = _ReadOnce()
