"""Benchmarks: speed, memory and match quality. Run as `python -m bench.<name>`."""
