"""Benchmarks of energy-agent: run them all with `.venv/bin/python bench/run_all.py [--quick]` (see README.md)."""
