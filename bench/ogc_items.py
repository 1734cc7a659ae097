"""Benchmark: OGC API – Features items of the incidents collection, ours against tipg
(issue 9).

Both serve the SAME table of the same database (the run's scratch copy) at the same time:

- **ours** = `gridmap serve` (one worker process), `/ogc/collections/incidents/items`,
  with an admin's Bearer token (admins see every incident, unmasked, as tipg does);
- **baseline** = tipg (developmentseed; its own virtual environment under
  `$GRIDMAP_HOME/bench/tipg-venv`, created on first use) under uvicorn (one worker),
  `/collections/public.incidents/items`, publishing the same properties as ours.

Like with like: the same limit, the same list of offsets (drawn at random over the whole
collection, as a client paging through it would reach them), the same client (httpx on
loopback, `Accept: application/geo+json`, `Accept-Encoding: identity`: neither compresses),
the same concurrency and number of requests. The requests run in rounds that alternate
between the two servers; throughput is the median over rounds, latency percentiles pool
every request. Before timing, one page of each is compared: same ids, same counts.

Target: ours at least as fast as tipg (throughput ratio ours/tipg ≥ 1.0; p99 ≤ tipg's).
When tipg cannot be installed or started here (no PyPI, a failing install), ours is still
measured and the baseline is recorded as not measured, with the precise reason.
"""

from __future__ import annotations

import contextlib
import json
import statistics

import numpy as np
from sqlalchemy import text

from bench.harness import (
    Context,
    Figure,
    Request,
    Target,
    interleaved,
    load,
    log,
    serve_tipg,
    summary,
    tipg_python,
    tipg_version,
)

NAME = "ogc_items"
OURS_PATH = "/ogc/collections/incidents/items"
TIPG_PATH = "/collections/public.incidents/items"
HEADERS = {"Accept": "application/geo+json", "Accept-Encoding": "identity"}


def _same_page(ours_base: str, tipg_base: str, headers: dict, limit: int, offset: int) -> dict:
    """One page from each: the same feature ids, numberMatched and numberReturned."""
    import httpx

    params = {"limit": limit, "offset": offset}
    a = httpx.get(ours_base + OURS_PATH, params=params, headers=headers, timeout=120).json()
    b = httpx.get(tipg_base + TIPG_PATH, params=params, headers=HEADERS, timeout=120).json()
    ids_a = [str(f["id"]) for f in a["features"]]
    ids_b = [str(f["id"]) for f in b["features"]]
    if ids_a != ids_b or a["numberMatched"] != b["numberMatched"]:
        raise AssertionError(
            f"ours and tipg disagree at limit={limit} offset={offset}: "
            f"{a['numberMatched']} vs {b['numberMatched']} matched, first ids "
            f"{ids_a[:3]} vs {ids_b[:3]}"
        )
    props_a = set(a["features"][0]["properties"]) if ids_a else set()
    props_b = set(b["features"][0]["properties"]) if ids_b else set()
    return {
        "number_matched": a["numberMatched"],
        "number_returned": len(ids_a),
        "ours_bytes": len(json.dumps(a, ensure_ascii=False).encode()),
        "tipg_bytes": len(json.dumps(b, ensure_ascii=False).encode()),
        "properties_only_ours": sorted(props_a - props_b),
        "properties_only_tipg": sorted(props_b - props_a),
    }


def run(ctx: Context) -> list[Figure]:
    from geo.publish.ogc import COLLECTIONS

    opts = ctx.options
    rounds, warmup = opts.ogc_rounds, 1
    properties = list(COLLECTIONS["incidents"].properties)
    engine = ctx.engine()
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    engine.dispose()
    ours_base = ctx.gridmap()
    ours_headers = {**HEADERS, "Authorization": f"Bearer {ctx.token('admin')}"}
    figures = []
    with contextlib.ExitStack() as stack:
        try:
            tipg_base = stack.enter_context(
                serve_tipg(ctx.url, ctx.home, {"incidents": properties})
            )
            version = tipg_version(tipg_python(ctx.home))
            unavailable = ""
        except (RuntimeError, OSError) as exc:  # no PyPI, no venv, tipg does not start
            tipg_base, version = None, None
            unavailable = f"tipg could not be run here: {exc}".strip()
            log(f"OGC items: baseline NOT MEASURED: {unavailable}")
        for limit in opts.ogc_limits:
            n = opts.ogc_requests
            rng = np.random.default_rng(limit)
            offsets = rng.integers(0, max(1, total - limit), n * (rounds + warmup)).tolist()
            chunks = [offsets[k * n : (k + 1) * n] for k in range(rounds + warmup)]
            same = None
            if tipg_base:
                same = _same_page(ours_base, tipg_base, ours_headers, limit, chunks[0][0])

            def contestant(base: str, path: str, headers: dict, limit=limit, chunks=chunks):
                calls = [0]

                def go() -> dict:
                    chunk = chunks[calls[0]]
                    calls[0] += 1

                    def request(i: int) -> Request:
                        return Request("GET", path, headers, {"limit": limit, "offset": chunk[i]})

                    result = load(base, request, opts.ogc_concurrency, 900, len(chunk))
                    return {"seconds": result.wall_s, "load": result}

                return go

            contestants = {"ours": contestant(ours_base, OURS_PATH, ours_headers)}
            if tipg_base:
                contestants["tipg"] = contestant(tipg_base, TIPG_PATH, HEADERS)
            runs = interleaved(
                contestants, repeat=rounds, warmup=warmup, label=f"OGC items limit={limit}"
            )
            stats = {}
            for name in contestants:
                loads = [r["load"] for r in runs.results[name]]
                stats[name] = {
                    "rps": statistics.median(x.throughput for x in loads),
                    "rps_rounds": [round(x.throughput, 2) for x in loads],
                    "latency_ms": summary([t * 1000 for x in loads for t in x.latencies]),
                    "errors": sum(x.errors for x in loads),
                    "requests": sum(x.requests for x in loads),
                    "error_samples": [s for x in loads for s in x.error_samples][:5],
                }
            o, t = stats["ours"], stats.get("tipg")
            log(
                f"OGC limit={limit}: ours {o['rps']:.1f} req/s p99 {o['latency_ms']['p99']:.0f} ms"
                + (
                    f", tipg {t['rps']:.1f} req/s p99 {t['latency_ms']['p99']:.0f} ms"
                    if t
                    else ", tipg not measured"
                )
            )
            size = f"{total:,} incidents, limit={limit}, {n * rounds} requests each"
            detail = {
                "limit": limit,
                "concurrency": opts.ogc_concurrency,
                "rounds": rounds,
                "requests_per_round": n,
                "tipg": version,
                "page_check": same,
                "ours": o,
                "tipg_stats": t,
            }
            baseline_name = f"tipg {version}, same table and requests" if t else "tipg"
            errors = f"{o['errors']} errors" + (f" (tipg {t['errors']})" if t else "")
            figures.append(
                Figure(
                    NAME,
                    f"OGC items throughput, limit={limit}, {opts.ogc_concurrency} clients",
                    size,
                    "req/s",
                    o["rps"],
                    t["rps"] if t else None,
                    baseline_name,
                    Target("ratio_min", 1.0, "≥ 1.0× tipg"),
                    ours_note=errors,
                    errors=o["errors"],
                    detail=detail,
                    not_measured=unavailable,
                )
            )
            figures.append(
                Figure(
                    NAME,
                    f"OGC items p99 latency, limit={limit}",
                    size,
                    "ms",
                    o["latency_ms"]["p99"],
                    t["latency_ms"]["p99"] if t else None,
                    baseline_name,
                    Target("ratio_max", 1.0, "≤ tipg's"),
                    ours_note=f"p50 {o['latency_ms']['p50']:.0f} ms"
                    + (f" (tipg {t['latency_ms']['p50']:.0f} ms)" if t else ""),
                    detail=detail,
                    not_measured=unavailable,
                )
            )
    return figures
