"""What each sector holds, kept ahead of time: households, residents (in their household's
sector) and businesses per kind, in `sector_holdings` (migration 0018r, kept by triggers
on households, residents and businesses). Coverage reads it instead of counting every
point per request (at city size the residents-households join was most of its time).

    >>> holdings_differences(conn)          # doctest: +SKIP
    0
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: the same figures counted from the points themselves: what the triggers must keep
RECOUNT_SQL = """
    SELECT sector_code, 'households' AS what, count(*) AS n FROM households
    WHERE sector_code IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT h.sector_code, 'residents', count(*) FROM residents r
    JOIN households h ON h.id = r.household_id WHERE h.sector_code IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT sector_code, kind, count(*) FROM businesses WHERE sector_code IS NOT NULL
    GROUP BY 1, 2
"""


def holdings_differences(conn: Connection) -> int:
    """How many (sector, what) keys of the rollup differ from a recount of the points (0:
    the triggers kept it exact; a key with no point must have no row)."""
    return conn.execute(
        text(f"""
        SELECT count(*) FROM sector_holdings s FULL JOIN ({RECOUNT_SQL}) r
        ON r.sector_code = s.sector_code AND r.what = s.what
        WHERE s.n IS DISTINCT FROM r.n""")
    ).scalar_one()
