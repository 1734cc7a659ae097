"""gridmap domain: spatial units, attach, imports, maps, statistics, local database, CLI."""

import pandas as _pd

# pyarrow (used by imports for fast CSV) would otherwise become the storage of every
# inferred string column, turning enum members into plain strings; keep pandas' own
# storage by default, and ask for Arrow explicitly where it pays (geo.imports).
_pd.set_option("mode.string_storage", "python")
