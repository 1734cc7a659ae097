"""Photos of cases: checked, re-encoded without EXIF, stored content-addressed outside the
database (GRIDMAP_HOME/photos/ab/<sha256>.<ext>, a JPEG thumbnail beside it), their
metadata in `incident_photos`, read back only through the case's visibility rules.

The type comes from the bytes (JPEG, PNG or WebP), never from a name or a header; size and
pixels are limited (`GRIDMAP_PHOTO_*`). Every photo is decoded and written again by Pillow
with no metadata at all, so GPS tags, camera serials and times never reach the disk.

    >>> add_photo(conn, worker, "I0000025001", jpeg_bytes, "after")  # doctest: +SKIP
    {'id': 7, 'media_type': 'image/jpeg', 'width': 2048, 'height': 1536, ...}
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Permission, Principal, incident_visibility
from geo.cases import flow as caseflow
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.core.settings import get_settings
from geo.core.terms import CLOSED_STATUSES

#: accepted types by their first bytes → (media type, Pillow format, file extension)
TYPES = {
    "jpeg": ("image/jpeg", "JPEG", "jpg"),
    "png": ("image/png", "PNG", "png"),
    "webp": ("image/webp", "WEBP", "webp"),
}
STAGES = ("report", "before", "after")


def sniff(data: bytes) -> str | None:
    """`jpeg`, `png` or `webp` from the file's signature, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def photo_dir() -> Path:
    return get_settings().home / "photos"


def _path(sha256: str, ext: str, thumb: bool = False) -> Path:
    name = f"{sha256}.thumb.jpg" if thumb else f"{sha256}.{ext}"
    return photo_dir() / sha256[:2] / name


def _write(path: Path, data: bytes) -> None:
    """Write once, atomically (same content, same name: an existing file is kept)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)


def clean_image(data: bytes) -> tuple[str, bytes, bytes, int, int]:
    """(kind, the re-encoded image without metadata, a JPEG thumbnail, width, height);
    InvalidInput (field `file`) for what is not a JPEG/PNG/WebP, too large or too big."""
    settings = get_settings()
    if len(data) > settings.photo_max_bytes:
        # the upload is read only up to one byte over the limit: "more than", not its size
        raise InvalidInput(
            f"the photo is more than {settings.photo_max_bytes:,} bytes, the most accepted",
            field="file",
            problem="too_large",
            limit=settings.photo_max_bytes,
        )
    kind = sniff(data)
    if kind is None:
        raise InvalidInput(
            "the file is not a JPEG, PNG or WebP image", field="file", problem="not_image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > settings.photo_max_pixels:
                raise InvalidInput(
                    f"the photo has {width} × {height} pixels; at most "
                    f"{settings.photo_max_pixels:,} in all",
                    field="file",
                    problem="too_many_pixels",
                    actual=width * height,
                    limit=settings.photo_max_pixels,
                )
            image.load()
    except InvalidInput:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as error:
        raise InvalidInput(
            f"the image cannot be read: {error}", field="file", problem="unreadable"
        ) from None
    image = ImageOps.exif_transpose(image)  # keep the picture upright once EXIF is gone
    has_alpha = image.mode in ("RGBA", "LA", "P") and kind != "jpeg"
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((settings.photo_max_side, settings.photo_max_side))
    _, pil_format, _ = TYPES[kind]
    out = io.BytesIO()
    options = {"quality": 85} if kind in ("jpeg", "webp") else {"optimize": True}
    image.save(out, pil_format, **options)  # no exif=, no icc: nothing but pixels
    thumb = image.convert("RGB")
    thumb.thumbnail((settings.photo_thumb_side, settings.photo_thumb_side))
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=80)
    return kind, out.getvalue(), small.getvalue(), image.width, image.height


def check_photo(data: bytes) -> dict:
    """What `add_photo` would store of these bytes, without storing anything: the report
    page checks its photos before it files the case. InvalidInput as `clean_image`."""
    kind, clean, _, width, height = clean_image(data)
    return {"media_type": TYPES[kind][0], "width": width, "height": height, "bytes": len(clean)}


def may_add(principal: Principal, own: bool) -> bool:
    """Reporters, grid workers and the desk add photos to cases that are theirs."""
    return own and (
        principal.can(Permission.UPDATE_INCIDENTS) or principal.can(Permission.REPORT_INCIDENTS)
    )


def default_stage(status: str) -> str:
    return {"reported": "report", "dispatched": "report", "in_progress": "before"}.get(
        status, "after"
    )


def add_photo(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    data: bytes,
    stage: str | None = None,
) -> dict:
    """Store a photo of a case the caller acts on (`report` at filing, `before`/`after`
    handling: default by the case's state); returns its metadata."""
    if stage is not None and stage not in STAGES:
        raise InvalidInput(f"stage must be one of {', '.join(STAGES)}", field="stage")
    case = caseflow._load_for_change(conn, principal, incident_id)
    if not may_add(principal, bool(case["own"])):
        raise Forbidden(f"incident {incident_id} is not yours to add photos to")
    if case["status"] in CLOSED_STATUSES:
        raise Conflict(
            f"incident {incident_id} is closed ({case['status']}); photos go on open cases",
            current_state=case["status"],
        )
    count = conn.execute(
        text("SELECT count(*) FROM incident_photos WHERE incident_id = :id"), {"id": incident_id}
    ).scalar()
    if count >= get_settings().photos_per_case:
        raise InvalidInput(
            f"incident {incident_id} already has {count} photos, the most one case may carry",
            field="file",
        )
    kind, clean, thumb, width, height = clean_image(data)
    sha256 = hashlib.sha256(clean).hexdigest()
    media_type, _, ext = TYPES[kind]
    _write(_path(sha256, ext), clean)
    _write(_path(sha256, ext, thumb=True), thumb)
    row = (
        conn.execute(
            text(
                "INSERT INTO incident_photos (incident_id, sha256, media_type, width, height, "
                "bytes, stage, uploaded_by) VALUES (:id, :sha, :type, :w, :h, :n, :stage, "
                ":actor) RETURNING id, media_type, width, height, bytes, stage, uploaded_by, "
                "uploaded_at"
            ),
            {
                "id": incident_id,
                "sha": sha256,
                "type": media_type,
                "w": width,
                "h": height,
                "n": len(clean),
                "stage": stage or default_stage(case["status"]),
                "actor": principal.actor,
            },
        )
        .mappings()
        .one()
    )
    return _shape(incident_id, dict(row))


def _shape(incident_id: str, row: dict) -> dict:
    url = f"/api/incidents/{incident_id}/photos/{row['id']}"
    return {**row, "url": url, "thumbnail_url": f"{url}?size=thumb"}


def list_photos(conn: Connection, incident_id: str) -> list[dict]:
    rows = conn.execute(
        text(
            "SELECT id, media_type, width, height, bytes, stage, uploaded_by, uploaded_at "
            "FROM incident_photos WHERE incident_id = :id ORDER BY id"
        ),
        {"id": incident_id},
    ).mappings()
    return [_shape(incident_id, dict(r)) for r in rows]


def photo_file(
    conn: Connection, principal: Principal, incident_id: str, photo_id: int, thumb: bool = False
) -> tuple[Path, str]:
    """(the file, its media type) of a photo of a case the caller may see; NotFound
    otherwise (the same answer whether the case or the photo is missing)."""
    visible, params = incident_visibility(principal, "i")
    row = conn.execute(
        text(
            "SELECT p.sha256, p.media_type FROM incident_photos p "
            f"JOIN incidents i ON i.id = p.incident_id WHERE p.id = :photo AND i.id = :id "
            f"AND {visible}"
        ),
        {"photo": photo_id, "id": incident_id, **params},
    ).first()
    if row is None:
        raise NotFound(f"no photo {photo_id} of an incident {incident_id!r} you may see")
    ext = next(e for t, _, e in TYPES.values() if t == row.media_type)
    path = _path(row.sha256, ext, thumb)
    if not path.exists():
        raise NotFound(f"photo {photo_id}: its file is missing from {photo_dir()}")
    return path, "image/jpeg" if thumb else row.media_type
