"""Benchmarks: the compat facade against raw Dramatiq and Celery on one private Redis (``python -m bench``)."""
