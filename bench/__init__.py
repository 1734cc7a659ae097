"""Benchmarks: each headline figure measured against its baseline, side by side, in one run
(`python -m bench`; the harness is `bench.harness`)."""
