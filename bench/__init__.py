"""Benchmarks of the console against the paper gateway simulator (DESIGN.md section 6).

Not tests: nothing here asserts a time. ``python -m bench`` (``make bench``) runs them all and
writes one table and one JSON file; each module also runs on its own with ``python -m bench.NAME``.
"""
