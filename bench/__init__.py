"""Benchmarks with their baselines side by side (make bench). Never run by make test."""
