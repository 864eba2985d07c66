"""Benchmarks: `make bench` (python -m bench). Results as JSON under bench/results/."""
