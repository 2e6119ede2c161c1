"""Benchmarks of the offline evaluation: ``python -m bench`` (see docs/benchmarks.md)."""
