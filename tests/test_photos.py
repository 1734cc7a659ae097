"""Photos of cases: type from the bytes, limits, EXIF (GPS above all) stripped, stored
content-addressed outside the database, served only to those who may see the case."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import text

from geo.core.settings import get_settings
from tests.conftest import auth
from tests.incident_support import inside, report_body, worker_sector

GPS_IFD = 0x8825


def jpeg_with_gps(width: int = 800, height: int = 600) -> bytes:
    """A JPEG carrying EXIF: camera make and GPS latitude/longitude."""
    image = Image.new("RGB", (width, height), (180, 90, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (39.0, 45.0, 30.0), 3: "E", 4: (98.0, 30.0, 15.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), "the fixture has GPS tags"
    return data


def new_case(client, engine, role: str = "patrol") -> dict:
    response = client.post(
        "/api/incidents",
        json=report_body(*inside(engine, worker_sector(engine))),
        headers=auth(role),
    )
    assert response.status_code == 201
    return response.json()


def upload(client, incident_id: str, data: bytes, role: str = "patrol", **form):
    return client.post(
        f"/api/incidents/{incident_id}/photos",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        data=form,
        headers=auth(role),
    )


def test_a_photo_is_stored_without_exif_content_addressed_with_a_thumbnail(
    fresh_client, fresh_engine, tmp_path, monkeypatch
):
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    get_settings.cache_clear()
    case = new_case(fresh_client, fresh_engine)
    response = upload(fresh_client, case["id"], jpeg_with_gps())
    assert response.status_code == 201, response.json()
    photo = response.json()
    assert photo["media_type"] == "image/jpeg" and photo["stage"] == "report"
    assert (photo["width"], photo["height"]) == (800, 600)
    stored = list((tmp_path / "photos").rglob("*.jpg"))
    assert len(stored) == 2  # the photo and its thumbnail
    for path in stored:
        image = Image.open(path)
        assert not image.getexif(), f"{path.name} still carries EXIF"
        assert b"Exif" not in path.read_bytes()[:4096]
    served = fresh_client.get(photo["url"], headers=auth("grid_worker"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(served.content)).getexif()
    thumb = fresh_client.get(photo["thumbnail_url"], headers=auth("grid_worker"))
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= get_settings().photo_thumb_side
    with fresh_engine.connect() as conn:
        sha = conn.execute(
            text("SELECT sha256 FROM incident_photos WHERE id = :id"), {"id": photo["id"]}
        ).scalar()
    import hashlib

    original = next(p for p in stored if ".thumb" not in p.name)
    assert hashlib.sha256(original.read_bytes()).hexdigest() == sha and sha in original.name
    listed = fresh_client.get(f"/api/incidents/{case['id']}", headers=auth("admin")).json()
    assert [p["id"] for p in listed["photos"]] == [photo["id"]]


def test_what_is_not_a_jpeg_png_or_webp_or_too_big_is_422_and_nothing_is_written(
    fresh_client, fresh_engine, tmp_path, monkeypatch
):
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    monkeypatch.setenv("GRIDMAP_PHOTO_MAX_PIXELS", "100000")
    get_settings.cache_clear()
    case = new_case(fresh_client, fresh_engine)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    for bad in (b"%PDF-1.4 not an image", gif.getvalue(), b"\xff\xd8\xff\xe0 truncated"):
        response = upload(fresh_client, case["id"], bad)
        assert response.status_code == 422, response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert "file" in str(response.json())
    big = upload(fresh_client, case["id"], jpeg_with_gps(800, 600))  # 480,000 pixels
    assert big.status_code == 422 and "pixels" in big.json()["detail"]
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_photos")).scalar() == 0
    assert not list(tmp_path.rglob("*.jpg"))


def test_photos_follow_the_cases_visibility(fresh_client, fresh_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    get_settings.cache_clear()
    response = fresh_client.post(
        "/api/incidents",
        json=report_body(*inside(fresh_engine, worker_sector(fresh_engine)), "key_population"),
        headers=auth("grid_worker"),
    )
    case = response.json()
    photo = upload(fresh_client, case["id"], jpeg_with_gps(), role="grid_worker").json()
    assert fresh_client.get(photo["url"], headers=auth("grid_worker")).status_code == 200
    assert fresh_client.get(photo["url"], headers=auth("patrol")).status_code == 404
    assert fresh_client.get(photo["url"], headers=auth("official")).status_code == 403
    # a patrol may not add photos to a case that is not theirs
    other = new_case(fresh_client, fresh_engine, role="grid_worker")
    assert upload(fresh_client, other["id"], jpeg_with_gps()).status_code == 403


def test_a_photo_is_checked_before_filing_without_storing_anything(
    fresh_client, fresh_engine, tmp_path, monkeypatch
):
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    monkeypatch.setenv("GRIDMAP_PHOTO_MAX_BYTES", "60000")
    monkeypatch.setenv("GRIDMAP_PHOTO_MAX_PIXELS", "400000")
    get_settings.cache_clear()

    def check(data: bytes, role: str = "patrol"):
        return fresh_client.post(
            "/api/photos/check",
            files={"file": ("photo.jpg", data, "image/jpeg")},
            headers=auth(role),
        )

    small = check(jpeg_with_gps(400, 300))
    assert small.status_code == 200, small.json()
    assert small.json()["media_type"] == "image/jpeg" and small.json()["width"] == 400
    noisy = io.BytesIO()
    Image.frombytes("RGB", (200, 200), bytes(range(256)) * 468 + bytes(192)).save(noisy, "PNG")
    refused = {
        "not_image": check(b"%PDF-1.4 not an image"),
        "unreadable": check(b"\xff\xd8\xff\xe0 truncated"),
        "too_many_pixels": check(jpeg_with_gps(800, 600)),
        "too_large": check(noisy.getvalue() + bytes(60000)),
    }
    for problem, response in refused.items():
        assert response.status_code == 422, (problem, response.json())
        assert response.json()["problem"] == problem and response.json()["field"] == "file"
    assert refused["too_large"].json()["limit"] == 60000
    assert refused["too_many_pixels"].json()["actual"] == 480000
    assert check(jpeg_with_gps(), role="official").status_code == 403
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_photos")).scalar() == 0
    assert not (tmp_path / "photos").exists()
