"""Job functions of the browser tests, run by ``runworker`` subprocesses (importable from the
repository root as ``tests.e2e.browser_jobs.<name>``)."""

from __future__ import annotations

from pathlib import Path


def fail_first_time(marker: str) -> str:
    """Fails on its first run (and leaves ``marker`` behind), succeeds on every later run."""
    path = Path(marker)
    if not path.exists():
        path.write_text("ran once\n")
        raise RuntimeError("fails on its first run on purpose")
    return "second run ok"


def wait_for(path: str, limit: float = 60.0) -> str:
    """Runs until ``path`` exists (bounded by ``limit`` seconds)."""
    import time

    deadline = time.monotonic() + limit
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"
