"""Fixtures shared by the fault and pool tests (worker subprocesses that get killed)."""

from __future__ import annotations

import pytest

from django_jobqueue import Queue
from tests.engine.jobs_faults import QUEUE, WorkerProcesses, subprocesses
from tests.engine.jobs_pool import QUEUE as POOL_QUEUE
from tests.engine.jobs_pool import Pools

SIGNING_KEY = "faults-test-signing-key"


@pytest.fixture
def workers(redis_url, tmp_path):
    """Worker subprocess factory; every process still running at teardown is SIGKILLed."""
    with subprocesses(WorkerProcesses, redis_url, tmp_path, SIGNING_KEY) as procs:
        yield procs


@pytest.fixture
def fq(connection):
    return Queue(QUEUE, connection=connection)


@pytest.fixture
def pools(redis_url, tmp_path):
    """Pool subprocess factory (tests/engine/test_pool*.py)."""
    with subprocesses(Pools, redis_url, tmp_path, "pool-test-signing-key") as procs:
        yield procs


@pytest.fixture
def pq(connection):
    return Queue(POOL_QUEUE, connection=connection)
