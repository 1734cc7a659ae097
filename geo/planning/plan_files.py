"""A plan as a file and back: GeoJSON (one FeatureCollection: the edits, in order, each with
the geometry it draws, then the sectors the plan makes, for a GIS to show) or GeoPackage
(layers `edits` and `sectors`). Importing makes a new open plan on the layer in force,
checked edit by edit; an edit that does not apply refuses the file, nothing written.

    >>> data, media, name = export_plan(conn, 3, "gpkg", "planner:王规划")
    >>> import_plan(conn, Path("plan.gpkg"), None, "planner:王规划")["id"]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import Conflict, InvalidInput
from geo.planning.geometry import collection, feature, from_geojson
from geo.planning.plans import (
    EDIT_KINDS,
    create_plan,
    edits_of,
    final_layer,
    get_plan,
    replay,
    scratch,
    summary_of,
)

FORMATS = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3"}
#: the body member holding the geometry an edit draws, per kind
DRAWN = {"move_border": "geometry", "split": "line"}


def _edit_rows(conn: Connection, plan: dict) -> list[dict]:
    """Each edit in force: seq, kind, the body without its drawn geometry, the geometry."""
    out = []
    for row in edits_of(conn, plan["id"], plan["cursor"]):
        body = dict(row["body"])
        key = DRAWN.get(row["kind"])
        drawn = body.pop(key, None) if key else None
        out.append(
            {
                "seq": row["seq"],
                "kind": row["kind"],
                "body": json.dumps(body, ensure_ascii=False),
                "geometry": from_geojson(drawn, key) if drawn else None,
                "drawn": drawn,  # as posted: the GeoJSON export keeps every digit
            }
        )
    return out


def export_plan(conn: Connection, plan_id: int, fmt: str, actor: str) -> tuple[bytes, str, str]:
    """(content, media type, file name) of the plan as `geojson` or `gpkg`."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format: one of {', '.join(FORMATS)}, got {fmt!r}")
    plan = get_plan(conn, plan_id)
    rows = _edit_rows(conn, plan)
    final, _, _ = final_layer(conn, plan, actor)
    sectors = final.sectors.reset_index()[["code", "grid2", "name_zh", "name_en", "geometry"]]
    name = f"plan-{plan_id}.{fmt}"
    meta = {"name": plan["name"], "base_etag": plan["base_etag"], "locks": plan["locks"]}
    if fmt == "geojson":
        features = [
            {
                "type": "Feature",
                "properties": {
                    "role": "edit",
                    "seq": r["seq"],
                    "kind": r["kind"],
                    "body": r["body"],
                },
                "geometry": r["drawn"],
            }
            for r in rows
        ]
        features += [
            feature(
                s.geometry,
                {
                    "role": "sector",
                    "code": s.code,
                    "grid2": s.grid2,
                    "name_zh": s.name_zh,
                    "name_en": s.name_en,
                },
            )
            for s in sectors.itertuples()
        ]
        body = collection(features, name=plan["name"], gridmap_plan=meta)
        return json.dumps(body, ensure_ascii=False).encode(), FORMATS[fmt], name
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        edits = gpd.GeoDataFrame(
            {
                "seq": [r["seq"] for r in rows],
                "kind": [r["kind"] for r in rows],
                "body": [r["body"] for r in rows],
                "plan": [json.dumps(meta, ensure_ascii=False)] * len(rows),
            },
            geometry=gpd.GeoSeries([r["geometry"] for r in rows], crs=4326),
        )
        edits.to_file(path, layer="edits", driver="GPKG", engine="pyogrio", geometry_type="Unknown")
        gpd.GeoDataFrame(sectors, geometry="geometry", crs=4326).to_file(
            path, layer="sectors", driver="GPKG", engine="pyogrio"
        )
        return path.read_bytes(), FORMATS[fmt], name


def _read(path: Path) -> tuple[dict, list[dict]]:
    """(plan metadata, edits as seq/kind/body/geometry) from an exported file."""
    if path.suffix.lower() == ".gpkg":
        try:
            frame = gpd.read_file(path, layer="edits", engine="pyogrio")
        except Exception:
            raise InvalidInput(f"{path.name}: not a plan GeoPackage (no layer `edits`)") from None
        meta = json.loads(frame["plan"].iloc[0]) if len(frame) else {}
        rows = [
            {"seq": int(r.seq), "kind": r.kind, "body": r.body, "geometry": r.geometry}
            for r in frame.itertuples()
        ]
        return meta, rows
    try:
        data = json.loads(path.read_bytes())
        features = [f for f in data["features"] if f["properties"].get("role") == "edit"]
        rows = [
            {
                "seq": int(f["properties"]["seq"]),
                "kind": f["properties"]["kind"],
                "body": f["properties"]["body"],
                "geometry": from_geojson(f["geometry"]) if f.get("geometry") else None,
            }
            for f in features
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(f"{path.name}: not a plan exported as GeoJSON") from None
    return data.get("gridmap_plan") or {}, rows


def _body(row: dict) -> dict:
    if row["kind"] not in EDIT_KINDS:
        raise InvalidInput(f"edit #{row['seq']}: kind {row['kind']!r} is not a plan edit")
    try:
        body = json.loads(row["body"]) if isinstance(row["body"], str) else dict(row["body"])
    except ValueError:
        raise InvalidInput(f"edit #{row['seq']}: its body is not JSON") from None
    key = DRAWN.get(row["kind"])
    geom = row["geometry"]
    if key and geom is not None and not shapely.is_empty(geom):
        body[key] = mapping(geom)  # every digit: the plan replays exactly
    return body


def import_plan(conn: Connection, path: Path, name: str | None, actor: str) -> dict:
    """A new open plan holding the file's edits, each checked on the layer in force."""
    meta, rows = _read(path)
    rows.sort(key=lambda r: r["seq"])
    bodies = [(r["kind"], _body(r)) for r in rows]
    plan = create_plan(conn, name or f"{meta.get('name') or path.stem} (导入)", actor)
    if not bodies:
        return plan
    conn.execute(
        text(
            "INSERT INTO plan_edits (plan_id, seq, kind, body, created_at) VALUES "
            "(:id, :seq, :kind, CAST(:body AS jsonb), now())"
        ),
        [
            {"id": plan["id"], "seq": i, "kind": k, "body": json.dumps(b, ensure_ascii=False)}
            for i, (k, b) in enumerate(bodies, start=1)
        ],
    )
    conn.execute(
        text("UPDATE plans SET cursor = :n WHERE id = :id"), {"n": len(bodies), "id": plan["id"]}
    )
    stored = edits_of(conn, plan["id"])
    try:
        with scratch(conn, plan["id"]):
            reports = replay(conn, {**plan, "cursor": len(bodies)}, stored, actor)
    except Conflict as exc:
        raise InvalidInput(f"{path.name}: {exc.detail}", **exc.extra) from None
    conn.execute(
        text(
            "UPDATE plan_edits SET summary = CAST(:s AS jsonb) WHERE plan_id = :id AND seq = :seq"
        ),
        [
            {"s": json.dumps(summary_of(r), ensure_ascii=False), "id": plan["id"], "seq": i}
            for i, r in enumerate(reports, start=1)
        ],
    )
    return get_plan(conn, plan["id"])
