"""The installable field app: its web app manifest and its service worker, versioned by
the app version and a hash of the shell it caches (so any change of a shell file is a new
service worker, new caches, the old ones deleted).

    >>> manifest("zh")["name"]
    '西北街网格'
    >>> service_worker_source().startswith("// The field app's service worker")
    True
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from geo.core.settings import PROJECT_ROOT

#: what the service worker caches at install: the pages' own assets and the vendored map
#: library (paths under the service's root; the data is cached as it is read)
SHELL = (
    "/static/web/gridmap.css",
    "/static/web/cases.js",
    "/static/web/streets.js",
    "/static/web/offline-queue.js",
    "/static/web/offline.js",
    "/static/web/notifications.js",
    "/static/web/icons/icon-192.png",
    "/static/web/icons/icon-512.png",
    "/static/maps/vendor/leaflet-1.9.4/dist/leaflet.css",
    "/static/maps/vendor/leaflet-1.9.4/dist/leaflet.js",
    "/static/maps/vendor/leaflet-1.9.4/dist/images/marker-icon.png",
    "/static/maps/vendor/leaflet-1.9.4/dist/images/marker-icon-2x.png",
    "/static/maps/vendor/leaflet-1.9.4/dist/images/marker-shadow.png",
    "/static/maps/vendor/leaflet-1.9.4/dist/images/layers.png",
)
SERVICE_WORKER = PROJECT_ROOT / "static" / "web" / "sw.js"


def app_version() -> str:
    try:
        return package_version("gridmap")
    except PackageNotFoundError:  # pragma: no cover - a checkout without its install
        return "0"


@lru_cache(maxsize=1)
def shell_version() -> str:
    """`<app version>-<12 hex of the SHA-256 of the shell files and the worker>`."""
    digest = hashlib.sha256()
    for path in (*SHELL, "/static/web/sw.js"):
        digest.update(path.encode())
        digest.update((PROJECT_ROOT / path.lstrip("/")).read_bytes())
    return f"{app_version()}-{digest.hexdigest()[:12]}"


def service_worker_source() -> str:
    """The worker's script with its version and shell list filled in."""
    source = SERVICE_WORKER.read_text(encoding="utf-8")
    return source.replace('"__VERSION__"', json.dumps(shell_version())).replace(
        '"__SHELL__"', json.dumps(list(SHELL))
    )


def manifest(lang: str, root_path: str = "") -> dict:
    """The web app manifest (W3C): Chinese name, English short name, icons, standalone."""
    root = root_path.rstrip("/")
    return {
        "name": "西北街网格" if lang != "en" else "Xibeijie Grid · 西北街网格",
        "short_name": "Xibeijie Grid",
        "description": "西北街街道网格化管理: 上报、我的事件、通知 · grid management in the field",
        "lang": "en" if lang == "en" else "zh-CN",
        "id": f"{root}/",
        "start_url": f"{root}/cases",
        "scope": f"{root}/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b0281c",
        "icons": [
            {
                "src": f"{root}/static/web/icons/icon-{size}.png",
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
            for size in (192, 512)
        ],
    }
