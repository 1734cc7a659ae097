"""What the service publishes: OGC API – Features, record listings, the monthly report, and
the pages' message table."""
