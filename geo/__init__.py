"""gridmap domain: spatial units, attach, imports, maps, statistics, local database, CLI."""
