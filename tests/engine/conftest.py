"""Fixtures shared by the fault tests (worker subprocesses that get killed)."""

from __future__ import annotations

import pytest

from django_jobqueue import Queue
from django_jobqueue.engine import serializers
from tests.engine.jobs_faults import QUEUE, WorkerProcesses

SIGNING_KEY = "faults-test-signing-key"


@pytest.fixture
def workers(redis_url, tmp_path):
    """Worker subprocess factory; every process still running at teardown is SIGKILLed."""
    previous = serializers._signing_key
    serializers.set_signing_key(SIGNING_KEY)  # the worker processes get it via the environment
    procs = WorkerProcesses(redis_url, tmp_path, SIGNING_KEY)
    try:
        yield procs
    finally:
        procs.kill_all()
        serializers._signing_key = previous
        print(procs.logs())  # shown by pytest when the test failed


@pytest.fixture
def fq(connection):
    return Queue(QUEUE, connection=connection)


POOL_SIGNING_KEY = "pool-test-signing-key"


@pytest.fixture
def pools(redis_url, tmp_path):
    """Pool subprocess factory (tests/engine/test_pool*.py)."""
    from tests.engine.jobs_pool import Pools

    previous = serializers._signing_key
    serializers.set_signing_key(POOL_SIGNING_KEY)
    procs = Pools(redis_url, tmp_path, POOL_SIGNING_KEY)
    try:
        yield procs
    finally:
        procs.kill_all()
        serializers._signing_key = previous
        print(procs.logs())


@pytest.fixture
def pq(connection):
    from tests.engine.jobs_pool import QUEUE

    return Queue(QUEUE, connection=connection)
