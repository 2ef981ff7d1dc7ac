"""Benchmarks: the webhook against a bare echo bot, and (bench/sweep_digest.py) the sweep and
digest at a million tickets. Run everything with `.venv/bin/python -m bench`."""
