"""The grid itself: the district's boundary dataset, loading it into PostGIS, the FACTS
figures, and attaching points to the units they lie in."""
