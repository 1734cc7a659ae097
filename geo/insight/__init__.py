"""What officials read: coverage per unit, the evaluation indicators, the district at a
glance, and hotspot statistics."""
