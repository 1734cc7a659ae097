"""Generated map pages, cached on disk under `GRIDMAP_MAP_CACHE_DIR` (map-cache/ in
GRIDMAP_HOME; never under the public /static mount: a cached page is data, served only
through its authorised route).

A page's key is an HMAC of what decides its content: the page kind and its parameters,
the audience (which incidents the caller may see), the data version (it grows with every
committed change to incidents, boundaries and the other data tables), the database, the
basemap and the builder's revision. A change to the data gives a new key, so stale pages
are never served; the oldest files beyond `GRIDMAP_MAP_CACHE_FILES` are removed. The key
is keyed with a secret kept in `GRIDMAP_HOME`, so nobody can work out a page's file name
from its parameters; the page's ETag is another HMAC of the key, so the ETag a browser
sees does not name the file either.

    >>> page = cached_page(conn, "incidents", params, "public", build)   # doctest: +SKIP
    >>> page.hit, page.path.name                                        # doctest: +SKIP
    (True, '3f1c...e9.html')
    >>> page.etag == page.key                                           # doctest: +SKIP
    False
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.dataversion import data_version
from geo.core.settings import get_settings

#: bump when a page's builder changes what it draws
BUILD = "maps-1"


def _secret() -> bytes:
    path = get_settings().home / "map-cache.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def page_key(conn: Connection, page: str, params: dict, audience: str) -> str:
    """The cache key of a page built now from this database."""
    version = data_version(conn)
    # the sub-district and role the transaction works under (0017t): one tenant's page is
    # never another's
    database = conn.execute(
        text(
            "SELECT current_database(), inet_server_port(), "
            "current_setting('gridmap.subdistrict', true), current_user"
        )
    ).one()
    payload = json.dumps(
        {
            "page": page,
            "params": params,
            "audience": audience,
            "data_version": version.version,
            "changed_at": version.changed_at.isoformat() if version.changed_at else None,
            "database": list(database),
            "tiles": get_settings().tiles,
            "build": BUILD,
        },
        sort_keys=True,
        default=str,
    )
    return hmac.new(_secret(), payload.encode(), hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True)
class CachedPage:
    key: str
    path: Path
    hit: bool

    @property
    def gzip_path(self) -> Path:
        return self.path.with_suffix(".html.gz")

    @property
    def etag(self) -> str:
        """The page's validator for HTTP caching: derived from the key under another label,
        so it never gives away the cache file's name."""
        return hmac.new(_secret(), f"etag:{self.key}".encode(), hashlib.sha256).hexdigest()[:32]

    def body(self, gzipped: bool = False) -> bytes:
        return (self.gzip_path if gzipped else self.path).read_bytes()


def cached_page(
    conn: Connection, page: str, params: dict, audience: str, build: Callable[[], str]
) -> CachedPage:
    """The page from the cache, or built by `build()` and stored (with a gzip copy)."""
    folder = get_settings().map_cache_dir / page
    key = page_key(conn, page, params, audience)
    path = folder / f"{key}.html"
    if path.exists() and path.with_suffix(".html.gz").exists():
        return CachedPage(key, path, hit=True)
    html = build().encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    for target, body in ((path.with_suffix(".html.gz"), gzip.compress(html, 6)), (path, html)):
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(body)
        os.replace(partial, target)  # readers never see half a page
    prune()
    return CachedPage(key, path, hit=False)


def prune(keep: int | None = None) -> int:
    """Remove the oldest cached pages beyond `keep` (default GRIDMAP_MAP_CACHE_FILES);
    returns how many were removed."""
    settings = get_settings()
    keep = settings.map_cache_files if keep is None else keep
    pages = sorted(
        settings.map_cache_dir.glob("*/*.html"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in pages[keep:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".html.gz").unlink(missing_ok=True)
    return max(0, len(pages) - keep)
