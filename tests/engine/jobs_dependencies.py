"""Job functions for tests/engine/test_dependencies_workflow.py (imported by worker
processes as ``tests.engine.jobs_dependencies``)."""

from __future__ import annotations

from django_jobqueue import get_current_job


def parents_view() -> dict:
    """What a job sees of its parents from inside: the first one, all, and their results."""
    job = get_current_job()
    first = job.dependency
    return {
        "dependency": first.id if first is not None else None,
        "dependencies": [parent.id for parent in job.dependencies],
        "results": job.dependencies_results(),
    }
