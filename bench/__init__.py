"""Benchmarks (not tests): each measures the service and an obvious alternative in the same run
and prints the comparison as a ratio. Run them with `make bench` (see bench/README.md)."""
