"""The public default signing key: an engine worker says so at start (anyone who can write
to its Redis could make it unpickle what they like), and ``--signing-key-file`` sets a
key without putting it in the environment."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from django_jobqueue import JobStatus, Queue, Worker
from django_jobqueue.engine import keys, serializers
from tests.engine import jobs_worker as jobs

ROOT = Path(__file__).resolve().parents[2]
WARNING = "public default signing key"


@pytest.fixture
def key():
    """The process's signing key, restored after the test."""
    original = serializers._signing_key
    yield serializers.set_signing_key
    serializers._signing_key = original


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]


def test_a_worker_on_the_default_key_with_pickle_warns(connection, key, caplog):
    serializers._signing_key = serializers._DEFAULT_KEY
    caplog.set_level(logging.WARNING, "django_jobqueue.worker")
    Worker([Queue("k", connection=connection)], connection=connection).work(burst=True)
    (message,) = _warnings(caplog)
    assert "JOBQUEUE_SIGNING_KEY" in message and "--signing-key-file" in message


@pytest.mark.parametrize("case", ["own key", "json only"])
def test_no_warning_with_a_key_or_without_pickle(connection, key, caplog, case):
    if case == "own key":
        key("a key of this deployment")
        queue = Queue("k", connection=connection)
        serializer = None
    else:
        serializers._signing_key = serializers._DEFAULT_KEY
        queue, serializer = Queue("k", connection=connection, serializer="json"), "json"
    caplog.set_level(logging.WARNING, "django_jobqueue.worker")
    Worker([queue], connection=connection, serializer=serializer).work(burst=True)
    assert _warnings(caplog) == []


def _cli_worker(url: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "JOBQUEUE_SIGNING_KEY"}
    env["PYTHONPATH"] = str(ROOT)
    env["JOBQUEUE_KEY_PREFIX"] = keys.prefix()
    return subprocess.run(
        [sys.executable, "-m", "django_jobqueue.engine", "worker", "k", "--url", url,
         "--burst", *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_signing_key_file(connection, redis_url, key, tmp_path):
    key("the key in the file")
    key_file = tmp_path / "signing.key"
    key_file.write_text("the key in the file\n")  # a trailing newline is not part of it
    job = Queue("k", connection=connection).enqueue(jobs.add, 2, 3)
    proc = _cli_worker(redis_url, "--signing-key-file", str(key_file))
    assert proc.returncode == 0, proc.stderr
    assert WARNING not in proc.stderr
    assert job.get_status() == JobStatus.FINISHED and job.result == 5


def test_without_the_key_file_the_job_is_refused_and_the_worker_warns(connection, redis_url,
                                                                     key):
    key("the key in the file")
    job = Queue("k", connection=connection).enqueue(jobs.add, 2, 3)
    proc = _cli_worker(redis_url)
    assert WARNING in proc.stderr
    assert job.get_status() == JobStatus.FAILED
    job.refresh()
    assert "signature does not match" in job.exc_info


def test_an_unreadable_key_file_is_a_clear_error(redis_url, tmp_path):
    proc = _cli_worker(redis_url, "--signing-key-file", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "Cannot use the signing key file" in proc.stderr
