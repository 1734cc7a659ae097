"""Partitioning study for `python -m bench --city`: would LIST partitioning of incidents by
sub-district pay for the per-sub-district queries?

In a transaction rolled back at the end (the source is left as it was, so this also runs
on the city database itself: `--in-place`), two copies of `incidents`
with its `subdistrict` column (0017t): `bench_incidents_flat`, one table indexed on
(subdistrict, observed_at), (subdistrict, status) and (subdistrict, sector_code); and
`bench_incidents_parts`, LIST
partitioned by subdistrict (one partition per sub-district) with the same indexes less the
leading column. The same per-sub-district raw queries run on both, interleaved.
"""

from __future__ import annotations

from sqlalchemy import text

from bench.harness import Figure, interleaved, log, summary

NAME = "city"
#: per-sub-district queries raw over incidents (what the rollups do not cover)
QUERIES = {
    "a year by category": (
        "SELECT category, count(*) FROM {t} WHERE subdistrict = :sd "
        "AND observed_at >= :start AND observed_at < :end GROUP BY category"
    ),
    "open cases by due time, first 50": (
        "SELECT id, due_at FROM {t} WHERE subdistrict = :sd "
        "AND status NOT IN ('closed', 'rejected', 'duplicate') ORDER BY due_at, id LIMIT 50"
    ),
    "all its incidents by sector": (
        "SELECT sector_code, count(*) FROM {t} WHERE subdistrict = :sd GROUP BY sector_code"
    ),
}


def build_copies(conn) -> list[str]:
    """The flat and the partitioned copy of incidents; returns the sub-districts."""
    codes = [
        r[0]
        for r in conn.execute(
            text("SELECT DISTINCT left(code, 9) FROM units WHERE level = 'district' ORDER BY 1")
        )
    ]
    conn.execute(text("CREATE TABLE bench_incidents_flat AS SELECT * FROM incidents"))
    conn.execute(
        text(
            "CREATE TABLE bench_incidents_parts (LIKE bench_incidents_flat) "
            "PARTITION BY LIST (subdistrict)"
        )
    )
    for code in codes:
        conn.execute(
            text(
                f"CREATE TABLE bench_incidents_p{code} PARTITION OF bench_incidents_parts "
                f"FOR VALUES IN ('{code}')"
            )
        )
    conn.execute(text("INSERT INTO bench_incidents_parts SELECT * FROM bench_incidents_flat"))
    for column in ("observed_at", "status", "sector_code"):
        conn.execute(
            text(f"CREATE INDEX ON bench_incidents_flat (subdistrict, {column})")
        )  # fmt: skip
        conn.execute(text(f"CREATE INDEX ON bench_incidents_parts ({column})"))
    conn.execute(text("ANALYZE bench_incidents_flat"))
    conn.execute(text("ANALYZE bench_incidents_parts"))
    return codes


def partition_figures(engine, home: str, repeat: int, size: str) -> list[Figure]:
    """Partitioned / flat time of each per-sub-district query (ratio < 1: partitions pay)."""
    figures = []
    with engine.connect() as conn:  # the copies are read in the transaction that builds them
        codes = build_copies(conn)
        log(f"partitioning study: {len(codes)} partitions")
        start, end = conn.execute(
            text("SELECT max(observed_at) - interval '365 days', max(observed_at) FROM incidents")
        ).one()
        params = {"sd": home, "start": start, "end": end}
        for name, sql in QUERIES.items():
            runs = interleaved(
                {
                    kind: lambda kind=kind, sql=sql: conn.execute(
                        text(sql.format(t=f"bench_incidents_{kind}")), params
                    ).all()
                    for kind in ("flat", "parts")
                },
                repeat=max(repeat, 5),
                warmup=1,
                label=f"partitions: {name}",
            )
            if sorted(map(tuple, runs.last("flat"))) != sorted(map(tuple, runs.last("parts"))):
                raise AssertionError(f"partitioning study, {name}: the two tables disagree")
            ms = {k: summary([s * 1000 for s in v]) for k, v in runs.seconds.items()}
            figures.append(
                Figure(
                    NAME,
                    f"partitioned by sub-district: {name}, one sub-district",
                    size,
                    "ms",
                    ms["parts"]["median"],
                    ms["flat"]["median"],
                    "one table, indexes led by subdistrict",
                    detail={"ms": ms, "partitions": len(codes)},
                )
            )
        conn.rollback()
    return figures
