"""`make bench`: the performance benchmark of issue 7 (see docs/benchmarks.md)."""
