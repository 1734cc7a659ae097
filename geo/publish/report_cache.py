"""The monthly report's PDF, rendered once per content: cached on disk beside the map pages
(`GRIDMAP_MAP_CACHE_DIR`/monthly-report/), under a key that changes with everything the
document shows.

WeasyPrint's layout of the five A4 pages is most of a report's time (seconds, whatever
counts the figures) and gives the same bytes for the same figures. The key is the map
cache's HMAC (`geo.publish.cache.page_key`) of the month, the language, the audience (which
cases the caller may see), the data version (it grows with every committed change to
incidents and the other data tables, so a stale report is never served), the evaluation
settings and this module's revision. A hit costs a key and a file read.

    >>> pdf = monthly_pdf(conn, principal, "2026-11", "zh", render)   # doctest: +SKIP
    >>> pdf.hit, len(pdf.body)                                        # doctest: +SKIP
    (True, 64071)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.cases.selection import visibility_class
from geo.core.settings import get_settings
from geo.publish.cache import page_key
from geo.publish.reports import MonthlyReport, monthly_report, parse_month, to_pdf

#: bump when the report's figures or its page change what a PDF shows
BUILD = "monthly-report-1"
PAGE = "monthly-report"
#: cached PDFs kept (the oldest beyond are removed)
KEEP = 64


@dataclass(frozen=True)
class CachedPdf:
    body: bytes
    hit: bool
    month: str


def audience(principal: Principal) -> str:
    """What of the report depends on who asks: the cases they may see (a grid worker also
    sees their own key-population cases in the coverage figures)."""
    visibility = visibility_class(principal)
    if visibility != "all" and principal.worker_id:
        visibility += f";worker:{principal.worker_id}"
    return visibility


def monthly_pdf(
    conn: Connection,
    principal: Principal,
    month: str | None,
    lang: str,
    render_html: Callable[[MonthlyReport], str],
    now: datetime | None = None,
) -> CachedPdf:
    """The month's report as PDF (`render_html` prints the report's page), from the cache
    when nothing it shows has changed, else built and stored."""
    now = now or datetime.now(UTC)
    first = parse_month(month, now)
    settings = get_settings()
    params = {
        "month": first.isoformat(),
        "lang": lang,
        "build": BUILD,
        "weights": settings.evaluation_weights,
        "bounds": settings.evaluation_grade_bounds,
        "small_sample": settings.evaluation_small_sample,
    }
    folder = settings.map_cache_dir / PAGE
    path = folder / f"{page_key(conn, PAGE, params, audience(principal))}.pdf"
    label = f"{first:%Y%m}"
    if path.exists():
        return CachedPdf(path.read_bytes(), hit=True, month=label)
    body = to_pdf(render_html(monthly_report(conn, principal, first.strftime("%Y-%m"), now)))
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(body)
    os.replace(partial, path)  # readers never see half a file
    for old in sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]:
        old.unlink(missing_ok=True)
    return CachedPdf(body, hit=False, month=label)
