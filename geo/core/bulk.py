"""Fast bulk writes: a DataFrame into a table by COPY, in the caller's transaction."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Connection

from geo.core import tenancy
from geo.core.models import SRID


def ewkb_hex(geoms: np.ndarray, srid: int = SRID) -> np.ndarray:
    """Hex EWKB of each shapely geometry, tagged with `srid`, as PostGIS's input accepts."""
    return shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)


def pg_array(values: list[list[str]] | pd.Series) -> list[str | None]:
    """Python lists as PostgreSQL array literals for COPY (`{a,b}`; None stays NULL)."""
    return [None if v is None else "{" + ",".join(v) + "}" for v in values]


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY every row of `frame` (columns named as the table's) into `table`; returns the count.

    Geometry columns must already hold hex EWKB (see `ewkb_hex`); NaN/None become NULL.
    """
    if frame.empty:
        return 0
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    tenancy.ensure(conn)  # COPY on the raw cursor: the transaction's scope first
    cursor = conn.connection.driver_connection.cursor()
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
    return len(frame)


def copy_columns(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """Like `copy_frame`, but formats the rows with Arrow's CSV writer (an order of magnitude
    faster on a million rows). Nulls become NULL and empty strings stay empty strings."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if frame.empty:
        return 0
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        buffer,
        write_options=pacsv.WriteOptions(include_header=False),
    )
    buffer.seek(0)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    tenancy.ensure(conn)  # COPY on the raw cursor: the transaction's scope first
    cursor = conn.connection.driver_connection.cursor()
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
    return len(frame)
