"""Benchmarks for consola-heartbeat, each figure beside a baseline measured in the same run.

Run ``python -m bench`` (quick mode, ``make bench``) or ``python -m bench --full``; see
bench/README.md for the method and the latest results.
"""
