"""Benchmarks: each module prints one table row `name | figure | baseline | ratio | target`.

Run one with `python -m bench.writes`, all with `python -m bench`.
"""
