"""Middleware (issue 12's hook points): enqueuing around the enqueue round trip, running and
ended around each execution, a trace context carried in the job, and hooks that raise
never breaking the step they watch."""

from __future__ import annotations

import contextlib

import pytest

from django_jobqueue import Job, JobStatus, Retry
from django_jobqueue.engine import middleware
from tests.engine import jobs_worker as jobs


class Recorder(middleware.Middleware):
    def __init__(self, raises: bool = False) -> None:
        self.events: list[tuple] = []
        self.raises = raises

    @contextlib.contextmanager
    def enqueuing(self, queue_name, jobs):
        for job in jobs:
            job.trace_context = {"traceparent": f"00-{job.id}-01"}
        self.events.append(("enqueuing", queue_name, len(jobs)))
        if self.raises:
            raise RuntimeError("enqueuing broke")
        yield
        self.events.append(("enqueued", queue_name))

    @contextlib.contextmanager
    def running(self, job):
        self.events.append(("running", job.id, dict(job.trace_context or {})))
        yield
        self.events.append(("ran", job.id))
        if self.raises:
            raise RuntimeError("running broke on the way out")

    def ended(self, job, outcome, recording):
        self.events.append(("ended", job.id, recording.succeeded, recording.retry,
                            str(recording.final)))
        if self.raises:
            raise RuntimeError("ended broke")


@pytest.fixture
def recorder():
    found = middleware.install(Recorder())
    yield found
    middleware.uninstall(found)


def test_hooks_run_in_order_and_the_trace_context_reaches_the_worker(queue, connection,
                                                                      recorder):
    job = queue.enqueue(jobs.add, 1, 2)
    assert Job.fetch(job.id, connection=connection).trace_context == {
        "traceparent": f"00-{job.id}-01"}
    jobs.make_worker([queue], connection).work(burst=True)
    assert recorder.events == [
        ("enqueuing", "default", 1), ("enqueued", "default"),
        ("running", job.id, {"traceparent": f"00-{job.id}-01"}),
        ("ended", job.id, True, False, "failed"), ("ran", job.id)]


def test_ended_tells_a_retry_from_a_final_failure(queue, connection, recorder):
    job = queue.enqueue(jobs.raise_error, retry=Retry(max=1))
    worker = jobs.make_worker([queue], connection)
    worker.work(burst=True)
    ends = [e[2:] for e in recorder.events if e[0] == "ended"]
    assert ends == [(False, True, "failed"), (False, False, "failed")]
    assert job.get_status() == JobStatus.FAILED


def test_hooks_that_raise_never_break_the_enqueue_or_the_job(queue, connection, caplog):
    broken = middleware.install(Recorder(raises=True))
    try:
        job = queue.enqueue(jobs.add, 2, 3)
        jobs.make_worker([queue], connection).work(burst=True)
    finally:
        middleware.uninstall(broken)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 5
    logged = [r.getMessage() for r in caplog.records if r.name == "django_jobqueue.middleware"]
    assert any("enqueuing raised" in m for m in logged)
    assert any("running raised" in m for m in logged)
    assert any("ended raised" in m for m in logged)


def test_a_corrupt_trace_context_fails_only_that_field_for_display(queue, connection):
    from django_jobqueue.engine import keys
    from django_jobqueue.engine.fields import decode_job

    job = queue.enqueue(jobs.add, 1, 1)
    connection.hset(keys.job(job.id), "trace", "[1, 2]")
    problems: list[str] = []
    values = decode_job(connection.hgetall(keys.job(job.id)), lenient=True, problems=problems)
    assert "trace" not in values and "Corrupt job field 'trace'" in problems[0]


def test_threads_that_ask_at_once_all_see_the_defaults(monkeypatch):
    import threading
    import time

    from django_jobqueue.engine import observability

    marker = middleware.Middleware()

    def slow_defaults():
        time.sleep(0.05)  # the window in which a second thread used to see none
        return [marker]

    monkeypatch.setattr(observability, "default_middlewares", slow_defaults)
    monkeypatch.setattr(middleware, "_defaults_done", False)
    monkeypatch.setattr(middleware, "_installed", [])
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(list(middleware.installed())))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [[marker]] * 4


def test_the_worker_command_calls_init_first_and_says_when_it_fails(redis_url, tmp_path):
    import os
    import subprocess
    import sys

    from tests.engine.jobs_faults import ROOT

    (tmp_path / "app_setup.py").write_text(
        "import os\n"
        "def setup():\n"
        "    open(os.environ['MARK'], 'w').write('set up')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
           "MARK": str(tmp_path / "mark")}
    command = [sys.executable, "-m", "django_jobqueue.engine", "worker", "default", "--url",
               redis_url, "--burst", "--processes", "0"]
    done = subprocess.run([*command, "--init", "app_setup.setup"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mark").read_text() == "set up"
    bad = subprocess.run([*command, "--init", "app_setup.nosuch"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--init app_setup.nosuch failed" in bad.stderr
