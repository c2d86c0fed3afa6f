"""Job functions used by the benchmarks; importable by both workers as ``benchmarks.jobs``."""


def noop():
    return None


def group_done(group):
    """A group's on_complete callback (bench_flow.py)."""
    return None
