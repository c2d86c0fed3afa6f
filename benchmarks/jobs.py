"""Job functions used by the benchmarks; importable by both workers as ``benchmarks.jobs``."""


def noop():
    return None
