"""Benchmarks for `make bench`: each bench_*.py module prints `bench NAME: VALUE UNIT` lines."""
