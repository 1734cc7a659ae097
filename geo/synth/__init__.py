"""The synthetic population and activity `gridmap seed` loads: deterministic, fake, marked so."""
