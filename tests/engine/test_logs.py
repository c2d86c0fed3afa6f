"""The worker's log formatter: the same lines as logging's default asctime format."""

from __future__ import annotations

import logging

from django_jobqueue.engine.logs import FORMAT, LineFormatter


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("django_jobqueue.worker", logging.INFO, __file__, 1,
                               "job %s finished", ("abc",), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_lines_match_the_standard_formatter_across_seconds():
    ours, standard = LineFormatter(FORMAT), logging.Formatter(FORMAT)
    for created in (1764590400.123, 1764590400.999, 1764590401.0, 1764590401.5, 1764590462.07):
        record = _record(created)
        assert ours.format(record) == standard.format(record)
    assert ours.format(_record(1764590401.5)).endswith(",500 INFO job abc finished")


def test_a_custom_datefmt_is_honoured():
    record = _record(1764590400.123)
    assert (LineFormatter(FORMAT, datefmt="%H").format(record)
            == logging.Formatter(FORMAT, datefmt="%H").format(record))


# --- the per-job line (issue 12) ------------------------------------------------------------


def _job_records(caplog):
    return [r for r in caplog.records if r.name == "django_jobqueue.worker"
            and getattr(r, "job_id", None)]


def test_the_per_job_line_carries_its_fields_and_a_final_failure_is_an_error(
        queue, connection, caplog):
    from django_jobqueue import Retry
    from tests.engine import jobs_worker as jobs

    caplog.set_level(logging.INFO, logger="django_jobqueue.worker")
    ok = queue.enqueue(jobs.add, 1, 2)
    bad = queue.enqueue(jobs.raise_error, retry=Retry(max=1))
    jobs.make_worker([queue], connection, name="logw").work(burst=True)
    records = _job_records(caplog)
    seen = [(r.job_id, r.outcome, r.levelname, r.attempt) for r in records]
    assert seen == [(ok.id, "finished", "INFO", 1), (bad.id, "retried", "WARNING", 1),
                    (bad.id, "failed", "ERROR", 2)]
    first = records[0]
    assert (first.job_func, first.queue, first.worker) == (
        "tests.engine.jobs_worker.add", "default", "logw")
    assert isinstance(first.duration_ms, float)
    assert records[1].exc_info is None  # a retry: no traceback
    assert records[2].exc_info is not None  # for good: the traceback, for alerting
    text = logging.Formatter().format(records[2])
    assert "Traceback" in text and "raise_error" in text


def test_json_lines_carry_the_fields_and_the_traceback():
    import json

    from django_jobqueue.engine.logs import JSONFormatter

    try:
        raise ValueError("boom")
    except ValueError as exc:
        info = (type(exc), exc, exc.__traceback__)
    record = logging.LogRecord("django_jobqueue.worker", logging.ERROR, __file__, 1,
                               "job %s failed", ("abc",), info)
    record.job_id, record.outcome, record.attempt = "abc", "failed", 3
    line = JSONFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert (data["message"], data["level"], data["job_id"], data["outcome"],
            data["attempt"]) == ("job abc failed", "ERROR", "abc", "failed", 3)
    assert "ValueError: boom" in data["exc_info"]


def test_the_worker_command_writes_json_lines(redis_url, queue):
    import json
    import os
    import subprocess
    import sys

    from tests.engine.jobs_faults import ROOT

    job = queue.enqueue("builtins.len", [1, 2])
    done = subprocess.run(
        [sys.executable, "-m", "django_jobqueue.engine", "worker", "default", "--url",
         redis_url, "--burst", "--processes", "0", "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "JOBQUEUE_SIGNING_KEY"})
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    finished = [d for d in lines if d.get("job_id") == job.id]
    assert finished and finished[0]["outcome"] == "finished", done.stderr
    assert all({"time", "level", "logger", "message"} <= set(d) for d in lines)
