"""Benchmarks: the compat facade against raw Dramatiq and Celery on one private Redis.

Run ``python -m bench`` (or ``make bench``); ``--quick`` for a smoke run.
"""
