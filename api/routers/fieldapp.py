"""The installable field app: `/manifest.webmanifest` and the service worker `/sw.js`
(at the root, so its scope covers every page; under `GRIDMAP_ROOT_PATH` both sit under
the prefix). Neither carries data, so neither needs a sign-in, like `/static`."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from api.web import page_language
from geo.core.settings import get_settings
from geo.publish import fieldapp

router = APIRouter(tags=["pages"])


@router.get("/manifest.webmanifest", include_in_schema=False)
def web_manifest(lang: str = Depends(page_language)) -> JSONResponse:
    return JSONResponse(
        fieldapp.manifest(lang, get_settings().root_path),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> Response:
    # no-cache: the browser asks for the worker on every navigation and sees a new version
    return Response(
        fieldapp.service_worker_source(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )
