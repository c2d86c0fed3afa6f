"""``manage.py runworker`` in a subprocess: burst, --pid, one log line per job, SIGTERM while a
job runs (warm shutdown), an unreachable Redis (one line, exit 1), and the database
connection closed between jobs (a file SQLite database, as a real project has)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test.utils import override_settings

from django_jobqueue import JobStatus, get_queue
from tests.django.conftest import jobqueue_settings
from tests.harness import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def wait_for_file(started: str, go: str) -> str:
    """Job: says it runs (``started`` appears), then waits until ``go`` appears."""
    Path(started).write_text(str(os.getpid()))
    deadline = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)
    return "went"


def db_connection_was_open() -> bool:
    """Job: was the default database connection open when the job started? Leaves it open."""
    from django.db import connection

    was_open = connection.connection is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return was_open


def runworker(redis_url: str, *args: str, settings: str = "tests.django.settings",
              pythonpath: str = "", **popen) -> subprocess.Popen:
    env = {**os.environ, "JOBQUEUE_URL": redis_url, "DJANGO_SETTINGS_MODULE": settings,
           "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p)}
    return subprocess.Popen([sys.executable, "-m", "django", "runworker", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"runworker did not exit:\n{out}\n{err}") from None
    return proc.returncode, out, err


def test_burst_processes_the_queues_in_order_logs_each_job_and_exits_0(redis_url, tmp_path):
    ok = get_queue("low").enqueue("operator.add", 1, 2)
    high = get_queue("high").enqueue("operator.mul", 2, 3)
    bad = get_queue("low").enqueue("os.nosuch")
    pid_file = tmp_path / "worker.pid"
    proc = runworker(redis_url, "high", "low", "--burst", "--pid", str(pid_file),
                     "--name", "burst-worker")
    code, out, err = finish(proc)
    assert code == 0, err
    assert pid_file.read_text().strip() == str(proc.pid)
    for job in (ok, high, bad):
        job.refresh()
    assert (ok.result, high.result) == (3, 6)
    assert bad.get_status() == JobStatus.FAILED
    # a pool (the default: one child, one slot) names its slots after it
    assert high.latest_result().worker_name == "burst-worker.c1.s0"
    job_lines = [line for line in err.splitlines() if line.split(" ", 4)[3:4] == ["job"]]
    assert len(job_lines) == 3, err
    assert f"job {high.id} operator.mul finished" in job_lines[0]  # high first
    assert "INFO" in job_lines[0] and "ERROR" in job_lines[2] and "os.nosuch" in job_lines[2]
    assert "Traceback" in err  # a failure for good logs its traceback


def test_verbosity_0_logs_warnings_only_and_max_jobs_stops(redis_url):
    first = get_queue().enqueue("operator.add", 1, 1)
    second = get_queue().enqueue("operator.add", 2, 2)
    code, out, err = finish(runworker(redis_url, "--max-jobs", "1", "-v", "0",
                                      "--worker-ttl", "10", "--processes", "0"))
    assert code == 0, err
    assert first.get_status() == JobStatus.FINISHED
    assert second.get_status() == JobStatus.QUEUED
    assert " job " not in err and "INFO" not in err


def test_max_jobs_with_a_pool_is_refused_with_what_to_use(redis_url):
    code, out, err = finish(runworker(redis_url, "--max-jobs", "1"))
    assert code == 1
    assert "--max-jobs applies with --processes 0" in err
    assert "--max-jobs-per-child" in err


def test_sigterm_while_a_job_runs_finishes_it_and_exits_0(redis_url, tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    job = get_queue().enqueue(wait_for_file, str(started), str(go))
    proc = runworker(redis_url)  # not burst: only the signal makes it exit
    try:
        wait_until(started.exists, timeout=30, message="the job never started")
        proc.send_signal(signal.SIGTERM)
        go.write_text("go")
        code, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, err
    assert "warm shutdown requested" in err
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.result == "went"


def test_unreachable_redis_one_line_exit_1_no_traceback():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    code, out, err = finish(runworker(url, "--burst"))
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Cannot reach Redis at {url}: "), err


@pytest.mark.parametrize("mode", [("--processes", "0"), ("--processes", "1")],
                         ids=["in-process", "pool-child"])
def test_database_connection_is_closed_between_jobs(redis_url, tmp_path, mode):
    """CONN_MAX_AGE=0 (Django's default): each job starts without the previous job's
    connection; with persistent connections the same connection is reused, as for requests.
    In a pool, this happens in the child that runs the jobs."""
    for max_age, expected in ((0, [False, False, False]), (None, [False, True, True])):
        settings_dir = tmp_path / f"age{max_age}"
        settings_dir.mkdir()
        (settings_dir / "filedb_settings.py").write_text(
            "from tests.django.settings import *  # noqa\n"
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',\n"
            f"    'NAME': {str(settings_dir / 'db.sqlite3')!r}, 'CONN_MAX_AGE': {max_age}}}}}\n"
        )
        jobs = [get_queue().enqueue(db_connection_was_open) for _ in range(3)]
        code, out, err = finish(runworker(redis_url, "--burst", *mode,
                                          settings="filedb_settings",
                                          pythonpath=str(settings_dir)))
        assert code == 0, err
        assert [job.latest_result().return_value for job in jobs] == expected, err


def job_context() -> str:
    """Job: where it runs, and whether the worker's job_started signal reached this process
    (tests.django.signal_probe counts them per process)."""
    import threading

    from tests.django import signal_probe

    return f"{os.getpid()}:{threading.get_ident()}:{signal_probe.started_here()}"


def test_a_pool_runs_jobs_in_children_with_the_django_hooks(redis_url, tmp_path):
    settings_dir = tmp_path / "probe"
    settings_dir.mkdir()
    (settings_dir / "probe_settings.py").write_text(
        "from tests.django.settings import *  # noqa\n"
        "import tests.django.signal_probe  # noqa: F401 (connects its receiver)\n")
    jobs = [get_queue().enqueue(job_context, job_timeout=30) for _ in range(24)]
    proc = runworker(redis_url, "--burst", "--processes", "2", "--threads", "2",
                     "--name", "djpool", settings="probe_settings",
                     pythonpath=str(settings_dir))
    code, out, err = finish(proc)
    assert code == 0, err
    values = [job.latest_result().return_value.split(":") for job in jobs]
    pids = {pid for pid, _, _ in values}
    assert str(proc.pid) not in pids and 1 <= len(pids) <= 2
    assert all(int(count) >= 1 for _, _, count in values)  # job_started, in the child
    assert {job.latest_result().worker_name.rsplit(".", 1)[0] for job in jobs} <= {
        "djpool.c1", "djpool.c2"}


def test_bad_pool_flags_are_command_errors(redis_url):
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url)):
        for flags, says in ((["--processes", "-1"], "processes must be"),
                            (["--threads", "0"], "threads must be"),
                            (["--processes", "0", "--threads", "4"],
                             "--threads: only with a pool"),
                            (["--grace", "-1"], "grace must be")):
            with pytest.raises(CommandError, match=says):
                call_command("runworker", "--burst", *flags)


def test_queues_of_two_connections_are_a_command_error(redis_url):
    value = jobqueue_settings(redis_url)
    value["CONNECTIONS"]["other"] = {"URL": redis_url}
    value["QUEUES"]["elsewhere"] = {"CONNECTION": "other"}
    with override_settings(JOBQUEUE=value):
        with pytest.raises(CommandError, match="one connection"):
            call_command("runworker", "default", "elsewhere", "--burst")
        with pytest.raises(CommandError, match="Unknown queue 'nosuch'"):
            call_command("runworker", "nosuch", "--burst")


@pytest.mark.parametrize("processes", ["0", "1"])  # a worker, and a pool's child
def test_log_format_json_writes_one_object_a_line_with_the_jobs_fields(redis_url, processes):
    import json

    ok = get_queue().enqueue("operator.add", 1, 2)
    bad = get_queue().enqueue("os.nosuch")
    code, out, err = finish(runworker(redis_url, "--burst", "--processes", processes,
                                      "--log-format", "json"))
    assert code == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    by_job = {d["job_id"]: d for d in lines if "job_id" in d}
    assert by_job[ok.id]["outcome"] == "finished" and by_job[ok.id]["level"] == "INFO"
    assert by_job[bad.id]["outcome"] == "failed" and by_job[bad.id]["level"] == "ERROR"
    assert "Traceback" in by_job[bad.id]["exc_info"]
    assert by_job[ok.id]["job_func"] == "operator.add" and by_job[ok.id]["attempt"] == 1
