"""The schema, as SQLAlchemy 2.0 typed models. Changes go through Alembic revisions.

Geometry is stored in SRID 4326; areas and lengths are computed in EPSG:4542.
Spatial units and courtyards are versioned: a change closes the current row
(`valid_to`) and inserts the next version, so `valid_to IS NULL` is "now".
"""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from geo.core.terms import (
    CLOSED_SQL,
    BusinessKind,
    CourtyardKind,
    IncidentStatus,
    Level,
    ResourceKind,
)

SRID = 4326
#: CGCS2000 / 3-degree Gauss-Kruger CM 99E: areas and lengths
METRIC_SRID = 4542
CODE = String(32)


def _one_of(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Base(DeclarativeBase):
    pass


#: the sub-district a row belongs to (0017t): the one its writing transaction works for
SUBDISTRICT_DEFAULT = text("gridmap_subdistrict()")


class OfSubdistrict:
    """A row of one sub-district (街道); row-level security keeps other sub-districts' rows
    out of a scoped transaction's reach (`geo.core.tenancy`)."""

    subdistrict: Mapped[str] = mapped_column(String(9), server_default=SUBDISTRICT_DEFAULT)


class IndexedSubdistrict:
    """The same, indexed (the big tables)."""

    subdistrict: Mapped[str] = mapped_column(
        String(9), server_default=SUBDISTRICT_DEFAULT, index=True
    )


def _subdistrict_of(column: str):
    """The sub-district generated from a unit code column (its first nine digits)."""
    return mapped_column(String(9), Computed(f"left({column}, 9)", persisted=True), nullable=True)


class Versioned:
    """valid_from/valid_to versioning shared by units and courtyards."""

    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(80))
    #: the boundary change that wrote this version (None: the initial load)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_changes.id"))
    #: on a retired version: the unit that took over most of its area
    successor_code: Mapped[str | None] = mapped_column(CODE)


class Unit(Versioned, Base):
    """A sub-district, community (= level-1 grid), level-2 grid or grid sector, one version."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(CODE)
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(CODE)
    seq: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    #: the sub-district the unit lies in: its code's first nine digits (0017t)
    subdistrict: Mapped[str | None] = _subdistrict_of("code")

    __table_args__ = (
        CheckConstraint(_one_of("level", Level), name="units_level"),
        UniqueConstraint("code", "version", name="units_code_version"),
        Index("units_current_code", "code", unique=True, postgresql_where=text("valid_to IS NULL")),
        Index(
            "units_current_geom",
            "geom",
            postgresql_using="gist",
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("units_level_current", "level", postgresql_where=text("valid_to IS NULL")),
        Index("units_code_history", "code", "valid_from"),
    )


class Attached:
    """The codes a point or courtyard carries: where it lies, kept in step with the boundaries."""

    @declared_attr
    def courtyard_code(cls) -> Mapped[str | None]:
        return mapped_column(CODE, index=True)

    @declared_attr
    def sector_code(cls) -> Mapped[str | None]:
        return mapped_column(CODE, index=True)

    @declared_attr
    def grid2_code(cls) -> Mapped[str | None]:
        return mapped_column(CODE, index=True)

    @declared_attr
    def community_code(cls) -> Mapped[str | None]:
        return mapped_column(CODE, index=True)


class Courtyard(OfSubdistrict, Versioned, Base):
    """A 小区楼院: property-managed compound, scattered buildings or rental housing."""

    __tablename__ = "courtyards"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(CODE)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    property_company_id: Mapped[str | None] = mapped_column(String(40))
    sector_code: Mapped[str | None] = mapped_column(CODE, index=True)
    grid2_code: Mapped[str | None] = mapped_column(CODE)
    community_code: Mapped[str | None] = mapped_column(CODE)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )

    __table_args__ = (
        CheckConstraint(_one_of("kind", CourtyardKind), name="courtyards_kind"),
        UniqueConstraint("code", "version", name="courtyards_code_version"),
        Index(
            "courtyards_current_code",
            "code",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index(
            "courtyards_current_geom",
            "geom",
            postgresql_using="gist",
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("courtyards_code_history", "code", "valid_from"),
    )


class PointEntity(Attached):
    """Columns every attached point entity has."""

    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Household(IndexedSubdistrict, PointEntity, Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    address: Mapped[str | None] = mapped_column(Text)
    building: Mapped[str | None] = mapped_column(String(20))
    unit_no: Mapped[str | None] = mapped_column(String(20))
    room: Mapped[str | None] = mapped_column(String(20))


class Resident(IndexedSubdistrict, Base):
    """A person in a household. Name, phone and ID number are personal data (masked)."""

    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    household_id: Mapped[str] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
    relation: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(18))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (CheckConstraint("gender IN ('M', 'F')", name="residents_gender"),)


class Business(IndexedSubdistrict, PointEntity, Base):
    """A shop (商业门店), enterprise or public institution (企事业单位)."""

    __tablename__ = "businesses"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint(_one_of("kind", BusinessKind), name="businesses_kind"),)


class Resource(IndexedSubdistrict, PointEntity, Base):
    """A governance resource: worker, officer, party organisation or member, unit, company.

    `serves_code` is the unit it is assigned to (a grid worker's sector, an officer's
    level-2 grid); the attach columns say where its location lies. `subtype` refines the
    kind (party level, branch type, member kind); `parent_id` links a member to its
    organisation and an organisation to the one above it in the five-level chain.
    """

    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    subtype: Mapped[str | None] = mapped_column(String(24))
    branch_type: Mapped[str | None] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(160))
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("resources.id", ondelete="SET NULL"), index=True
    )
    serves_code: Mapped[str | None] = mapped_column(CODE, index=True)
    has_party_org: Mapped[bool | None] = mapped_column(Boolean)
    phone: Mapped[str | None] = mapped_column(String(20))
    #: set when retired (`geo.people.staff`): out of active lists, dispatch and coverage, kept for
    #: the history that names it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the PointEntity geometry is optional for resources (a member may have no address)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=True
    )

    __table_args__ = (CheckConstraint(_one_of("kind", ResourceKind), name="resources_kind"),)


class IncidentCategory(Base):
    """One row per category; the running time limits (defaults in `geo.cases.categories`)."""

    __tablename__ = "incident_categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(80))
    urgent: Mapped[bool] = mapped_column(Boolean)
    sensitive: Mapped[bool] = mapped_column(Boolean)
    dispatch_minutes: Mapped[int] = mapped_column(Integer)
    close_minutes: Mapped[int | None] = mapped_column(Integer)
    close_working_days: Mapped[int | None] = mapped_column(Integer)
    sort: Mapped[int] = mapped_column(Integer)
    #: set when retired: no new reports; cases already filed keep it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "(close_minutes IS NULL) <> (close_working_days IS NULL)",
            name="incident_categories_one_limit",
        ),
    )


class CategoryOverride(Base):
    """A sub-district's own names, urgency, time limits or switch-off of one category
    (0018c); NULL keeps the default. Read through the view `categories_in_force`."""

    __tablename__ = "category_overrides"

    subdistrict: Mapped[str] = mapped_column(
        String(9), primary_key=True, server_default=SUBDISTRICT_DEFAULT
    )
    code: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident_categories.code"), primary_key=True
    )
    name_zh: Mapped[str | None] = mapped_column(String(40))
    name_en: Mapped[str | None] = mapped_column(String(80))
    urgent: Mapped[bool | None] = mapped_column(Boolean)
    dispatch_minutes: Mapped[int | None] = mapped_column(Integer)
    close_minutes: Mapped[int | None] = mapped_column(Integer)
    close_working_days: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    changed_by: Mapped[str | None] = mapped_column(String(120))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "close_minutes IS NULL OR close_working_days IS NULL",
            name="category_overrides_one_limit",
        ),
    )


class Incident(OfSubdistrict, PointEntity, Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(
        String(40),
        primary_key=True,
        server_default=text("'I' || lpad(nextval('incident_seq')::text, 10, '0')"),
    )
    category: Mapped[str] = mapped_column(ForeignKey("incident_categories.code"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reporter_contact: Mapped[str | None] = mapped_column(String(40))
    assigned_to: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatch_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    #: the one grid worker who owns the case (the team in `assigned_to` still sees it)
    owner_id: Mapped[str | None] = mapped_column(String(40), index=True)
    #: kept from the case's events by a trigger (0015): sent back (返工), extensions approved
    times_sent_back: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extensions_approved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: not indexed (0019e): they follow from the sector, readers go by the sector's index,
    #: and a boundary edit wrote an entry in each for every incident it moved
    grid2_code: Mapped[str | None] = mapped_column(CODE)
    community_code: Mapped[str | None] = mapped_column(CODE)

    __table_args__ = (
        CheckConstraint(_one_of("status", IncidentStatus), name="incidents_status"),
        # what is open now is read live (0008); this keeps that read small
        Index(
            "incidents_open",
            "observed_at",
            postgresql_where=text(f"status NOT IN {CLOSED_SQL}"),
        ),
        # the case lists: a sub-district's open cases by due time, one page at a time,
        # counts by state, from the index alone (0016d, 0020o)
        Index(
            "incidents_open_due",
            "subdistrict",
            "due_at",
            "id",
            "status",
            postgresql_where=text("status NOT IN ('verified', 'rejected', 'duplicate')"),
            postgresql_include=["sector_code", "owner_id", "assigned_to", "category"],
        ),
        # a tenant's rows in id order, from the index alone (0019o: the OGC pages)
        Index("incidents_subdistrict_id", "subdistrict", "id"),
    )


class IncidentEvent(OfSubdistrict, Base):
    """Append-only history of an incident: every transition, dispatch and re-dispatch."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(String(40))  # e.g. user:7 or token:3


class DatasetInfo(Base):
    """Small facts about the loaded data: the seed run, and the data version for caches."""

    __tablename__ = "dataset_info"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DataChange(Base):
    """One row per committed write statement on a data table (filled by triggers).

    The data version is the row count: it grows with every committed change, whatever
    order concurrent transactions commit in, so it is a safe cache key.
    """

    __tablename__ = "data_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    table_name: Mapped[str] = mapped_column(String(40))


class ApiToken(OfSubdistrict, Base):
    """An API token: only its SHA-256 is stored; `scope_codes` are a grid worker's grids."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope_codes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    worker_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # a personal access token: its owner, its roles (the owner's or fewer), its expiry
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class User(OfSubdistrict, Base):
    """A person who signs in: login name, Argon2id password hash, roles, and for a grid
    worker the worker record they are and the grids they serve."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    worker_id: Mapped[str | None] = mapped_column(String(40))
    scope_codes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(OfSubdistrict, Base):
    """A sign-in: only the SHA-256 of the random cookie value is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuthFailure(Base):
    """A failed sign-in or a bad token, counted for throttling (per account, per address)."""

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("auth_failures_address", "kind", "address", "at"),
        Index("auth_failures_account", "kind", "account", "at"),
    )


class AuditEntry(IndexedSubdistrict, Base):
    """Append-only: every write, every read of unmasked personal data, every login."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    actor: Mapped[str] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(Text, index=True)
    target: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSONB)


class BoundaryChange(OfSubdistrict, Base):
    """One boundary edit, import or rollback: who, when, why, and what it moved."""

    __tablename__ = "boundary_changes"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict | None] = mapped_column(JSONB)


class CaseRequest(OfSubdistrict, Base):
    """A worker's request for more time (延期, `extension`) or to hand a case back (回退,
    `return`), and the supervisor's decision; at most one pending per case."""

    __tablename__ = "case_requests"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    working_days: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('extension', 'return')", name="case_requests_kind"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'refused')", name="case_requests_status"
        ),
        Index(
            "case_requests_one_pending",
            "incident_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )


class IncidentPhoto(OfSubdistrict, Base):
    """A photo of a case: the file lives under GRIDMAP_HOME/photos by its SHA-256."""

    __tablename__ = "incident_photos"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("stage IN ('report', 'before', 'after')", name="incident_photos_stage"),
    )


class WorkingDay(Base):
    """A day that differs from the `chinese-calendar` package (or that it does not know):
    `working` false for a holiday, true for a make-up working day (调休)."""

    __tablename__ = "working_calendar"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(80))


class Street(Base):
    """A street of the orientation basemap (0016s): drawn with its name under the data."""

    __tablename__ = "streets"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name_zh: Mapped[str | None] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    #: the OpenStreetMap `highway` value when imported from one (primary, residential ...)
    highway: Mapped[str | None] = mapped_column(String(32))
    arterial: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTILINESTRING", srid=SRID, spatial_index=False)
    )

    __table_args__ = (Index("streets_geom", "geom", postgresql_using="gist"),)


class Landmark(Base):
    """A named place of the orientation basemap (0016s): market, school, square ..."""

    __tablename__ = "landmarks"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str | None] = mapped_column(String(32))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))

    __table_args__ = (Index("landmarks_geom", "geom", postgresql_using="gist"),)


#: tables whose changes bump the data version (cache keys of maps and statistics)
VERSIONED_TABLES = (
    "units",
    "courtyards",
    "households",
    "residents",
    "businesses",
    "resources",
    "incidents",
    "incident_categories",
    "streets",  # 0016s
    "landmarks",
    "category_overrides",  # 0018c
)


#: buckets of the close-time histogram the rollups keep (0008: `incident_close_bucket`)
CLOSE_BUCKETS = 64
#: the evaluation's counts the rollups keep besides (0015)
EVALUATION_COUNTS = (
    "voided",
    "sent_back",
    "extended",
    "first_time_fixed",
    "dispatched",
    "dispatched_in_time",
)


def _rollup_columns(period: str, key: str = "sector_code", key_length: int = 32) -> dict:
    """The columns of an incident rollup (0008): the key, the counts, the histogram."""
    columns = {
        key: mapped_column(String(key_length), primary_key=True),
        "category": mapped_column(String(32), primary_key=True),
        period: mapped_column(Date, primary_key=True),
        "incidents": mapped_column(Integer, nullable=False, server_default=text("0")),
        "verified": mapped_column(Integer, nullable=False, server_default=text("0")),
        "verified_in_time": mapped_column(Integer, nullable=False, server_default=text("0")),
    }
    for k in range(CLOSE_BUCKETS):
        columns[f"h{k:02d}"] = mapped_column(Integer, nullable=False, server_default=text("0"))
    for name in EVALUATION_COUNTS:
        columns[name] = mapped_column(Integer, nullable=False, server_default=text("0"))
    # 0017t: an area's from its sector code, a worker's from the writing transaction
    columns["subdistrict"] = (
        _subdistrict_of(key)
        if key == "sector_code"
        else mapped_column(String(9), nullable=False, server_default=SUBDISTRICT_DEFAULT)
    )
    return columns


class IncidentDailyStats(Base):
    """Incidents per sector, category and Beijing day, kept by triggers on `incidents`.
    Fill factor 50, the monthly rollup too (0019e: room for HOT upserts)."""

    __tablename__ = "incident_daily_stats"
    __table_args__ = (
        Index("incident_daily_stats_day", "day"),
        Index("incident_daily_stats_subdistrict", "subdistrict", "day"),  # 0018r
    )
    locals().update(_rollup_columns("day"))


class IncidentMonthlyStats(Base):
    """The same figures per month."""

    __tablename__ = "incident_monthly_stats"
    __table_args__ = (
        Index("incident_monthly_stats_month", "month"),
        Index("incident_monthly_stats_subdistrict", "subdistrict", "month"),  # 0018r
    )
    locals().update(_rollup_columns("month"))


class Notification(OfSubdistrict, Base):
    """What a user is told (a new dispatch, an assignment, a returned case, a deadline
    within the hour, an overdue case), read per user; 0016o."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("notifications_user_unread", "user_id", "read_at", "id"),
        Index(
            "notifications_once_per_case",
            "user_id",
            "incident_id",
            "kind",
            unique=True,
            postgresql_where=text("kind IN ('due_soon', 'overdue')"),
        ),
    )


class DeadlineSweep(OfSubdistrict, Base):
    """A case the deadline sweep has taken up for a kind (due soon, overdue), told anyone
    or not: it is not taken up again (`geo.notify.inbox.sweep_deadlines`); 0020d."""

    __tablename__ = "deadline_sweeps"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    swept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('due_soon', 'overdue')", name="deadline_sweeps_kind"),
    )


class Webhook(OfSubdistrict, Base):
    """An outgoing work-group robot of a grid or community (WeCom, DingTalk, Feishu or
    generic JSON); 0016o."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "format IN ('wecom', 'dingtalk', 'feishu', 'json')", name="webhooks_format"
        ),
    )


class WebhookDelivery(OfSubdistrict, Base):
    """The webhook outbox and its log: one message to one webhook, its attempts; 0016o."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="webhook_deliveries_status"
        ),
        Index(
            "webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class ActionReplay(OfSubdistrict, Base):
    """The first answer of a case action sent with an Idempotency-Key (per caller); 0016o."""

    __tablename__ = "action_replays"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    request: Mapped[dict] = mapped_column(JSONB)
    answer: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BoundaryPlan(OfSubdistrict, Base):
    """A planner's named draft: edits not yet applied, made on a base (the layer ETag when
    made or last rebased). `cursor` counts the edits in force (undo/redo move it); applied
    as one boundary change (`applied_change_id`) or discarded."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), server_default="open")
    base_etag: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[int] = mapped_column(Integer, server_default="0")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_change_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_changes.id"))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'applied', 'discarded')", name="plans_status"),
    )


class PlanEdit(OfSubdistrict, Base):
    """One edit of a plan, in order: its kind, the body the single-edit route takes, and a
    short summary of its preview."""

    __tablename__ = "plan_edits"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    body: Mapped[dict] = mapped_column(JSONB)
    summary: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PlanLock(OfSubdistrict, Base):
    """A sector locked by one plan: a trigger on `units` refuses other edits of it."""

    __tablename__ = "plan_locks"

    sector_code: Mapped[str] = mapped_column(CODE, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IncidentWorkerDailyStats(Base):
    """The same figures per grid worker (the case's owner, else each worker of its team),
    category and Beijing day, kept by triggers on `incidents` (0016e)."""

    __tablename__ = "incident_worker_daily_stats"
    __table_args__ = (
        Index("incident_worker_daily_stats_day", "day"),
        Index("incident_worker_daily_stats_subdistrict", "subdistrict", "day"),  # 0018r
    )
    locals().update(_rollup_columns("day", key="worker_id", key_length=40))


class IncidentWorkerMonthlyStats(Base):
    """The per-worker figures per month."""

    __tablename__ = "incident_worker_monthly_stats"
    __table_args__ = (
        Index("incident_worker_monthly_stats_month", "month"),
        Index("incident_worker_monthly_stats_subdistrict", "subdistrict", "month"),  # 0018r
    )
    locals().update(_rollup_columns("month", key="worker_id", key_length=40))


class IncidentHeatCell(Base):
    """The heat page's aggregates: incidents per 5 m lattice cell, Beijing month, category,
    status and sector, with the sums of their coordinates; kept by triggers (0017h).
    Fill factor 80, the totals too (0019e: room for HOT upserts)."""

    __tablename__ = "incident_heat_cells"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    subdistrict: Mapped[str] = mapped_column(
        String(9), primary_key=True, server_default=text("current_setting('gridmap.subdistrict')")
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    sector_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    cx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cy: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    incidents: Mapped[int] = mapped_column(Integer, nullable=False)
    sum_lon: Mapped[float] = mapped_column(Double, nullable=False)
    sum_lat: Mapped[float] = mapped_column(Double, nullable=False)


class IncidentHeatTotal(Base):
    """The same cells over all time, every category and status (0017h)."""

    __tablename__ = "incident_heat_totals"

    #: kept on the 5 m lattice merged 2 x 2 `shift` times (0–3: 5, 10, 20, 40 m)
    shift: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    subdistrict: Mapped[str] = mapped_column(
        String(9), primary_key=True, server_default=text("current_setting('gridmap.subdistrict')")
    )
    sector_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    cx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cy: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    incidents: Mapped[int] = mapped_column(Integer, nullable=False)
    sum_lon: Mapped[float] = mapped_column(Double, nullable=False)
    sum_lat: Mapped[float] = mapped_column(Double, nullable=False)


class SectorHolding(Base):
    """Households, residents (in their household's sector) and businesses (per kind) per
    sector, kept by triggers on those tables (0018r): what coverage reads at city size."""

    __tablename__ = "sector_holdings"

    sector_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: `households`, `residents`, or a business kind (`shop`, `enterprise`, ...)
    what: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, nullable=False)
    subdistrict: Mapped[str | None] = _subdistrict_of("sector_code")


def _totals_columns(key: str = "sector_code", key_length: int = 32) -> dict:
    """A monthly rollup's columns without the category (0019a)."""
    columns = _rollup_columns("month", key=key, key_length=key_length)
    del columns["category"]
    return columns


class IncidentMonthlyTotals(Base):
    """The monthly rollup summed over its categories: per sector and month, kept by
    triggers on `incident_monthly_stats` (0019a); what the whole city's evaluation reads."""

    __tablename__ = "incident_monthly_totals"
    __table_args__ = (Index("incident_monthly_totals_subdistrict", "subdistrict", "month"),)
    locals().update(_totals_columns())


class IncidentWorkerMonthlyTotals(Base):
    """The per-worker monthly rollup summed over its categories (0019a)."""

    __tablename__ = "incident_worker_monthly_totals"
    __table_args__ = (Index("incident_worker_monthly_totals_subdistrict", "subdistrict", "month"),)
    locals().update(_totals_columns(key="worker_id", key_length=40))


class IncidentCategoryMonthlyTotals(Base):
    """The monthly rollup summed per sub-district, category and month (0019a): the
    evaluation's category level."""

    __tablename__ = "incident_category_monthly_totals"

    subdistrict: Mapped[str] = mapped_column(String(9), primary_key=True)
    locals().update(
        {
            k: v
            for k, v in _rollup_columns("month").items()
            if k not in ("sector_code", "subdistrict")
        }
    )
