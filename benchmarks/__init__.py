"""Benchmarks for django-jobqueue (not part of the installed package)."""
