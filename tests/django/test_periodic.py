"""JOBQUEUE['PERIODIC'] in a Django project: parsing and its check ids, runworker enqueuing
the ticks (a real subprocess), and ``manage.py jobqueue periodic``."""

from __future__ import annotations

import json
import signal
import sys
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test.utils import override_settings

from django_jobqueue.checks import check_periodic_functions, check_settings
from django_jobqueue.engine.periodic import PeriodicRunner
from django_jobqueue.integration import periodic, settings
from tests.django.conftest import jobqueue_settings
from tests.django.periodic_jobs import RAN
from tests.django.test_runworker import finish, runworker
from tests.harness import wait_until

FUNC = "tests.django.periodic_jobs.record"
NIGHTLY = {"FUNC": FUNC, "CRON": "0 3 * * *", "TIMEZONE": "Europe/Paris"}


def with_periodic(redis_url: str, entries) -> override_settings:
    return override_settings(JOBQUEUE=jobqueue_settings(redis_url, PERIODIC=entries))


def check_ids(redis_url: str, entries) -> list[str]:
    with with_periodic(redis_url, entries):
        return [e.id for e in check_settings() + check_periodic_functions()]


def test_entries_become_periodic_jobs_with_the_defaults(redis_url):
    with with_periodic(redis_url, {"nightly": NIGHTLY, "poll": {
            "FUNC": FUNC, "EVERY": 30, "QUEUE": "high", "PRIORITY": 5, "ARGS": [1],
            "KWARGS": {"a": 2}, "OVERLAP": True, "MISSED": "skip", "ENABLED": False,
            "RETRY": {"MAX": 2}}}):
        jobs = {job.name: job for job in settings.load().periodic}
        assert check_settings() == [] and check_periodic_functions() == []
    assert jobs["nightly"].cron == "0 3 * * *" and jobs["nightly"].queue == "default"
    assert jobs["nightly"].timezone == "Europe/Paris"
    poll = jobs["poll"]
    assert (poll.every, poll.queue, poll.args, poll.kwargs) == (30, "high", (1,), {"a": 2})
    assert (poll.overlap, poll.missed, poll.enabled) == (True, "skip", False)
    assert poll.options["priority"] == 5 and poll.options["retry"].max == 2


def test_the_time_zone_defaults_to_djangos(redis_url):
    with with_periodic(redis_url, {"p": {"FUNC": FUNC, "CRON": "0 3 * * *"}}), \
            override_settings(TIME_ZONE="Asia/Tokyo"):
        [job] = settings.load().periodic
    assert job.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(("entries", "expected"), [
    ("nightly", "django_jobqueue.E040"),
    ({"bad name!": NIGHTLY}, "django_jobqueue.E040"),
    ({"p": "every day"}, "django_jobqueue.E040"),
    ({"p": {**NIGHTLY, "SCHEDULE": "daily"}}, "django_jobqueue.E040"),
    ({"p": {**NIGHTLY, "CRON": "0 25 * * *"}}, "django_jobqueue.E041"),
    ({"p": {**NIGHTLY, "EVERY": 5}}, "django_jobqueue.E041"),
    ({"p": {**NIGHTLY, "CRON": "0 0 30 2 *"}}, "django_jobqueue.E041"),  # never due
    ({"every-x": {**NIGHTLY, "KWARGS": "x"}}, "django_jobqueue.E046"),
    ({"p": {**NIGHTLY, "TIMEOUT": "soon"}}, "django_jobqueue.E046"),
    ({"p": {**NIGHTLY, "FUNC": "tests.django.periodic_broken.f"}}, "django_jobqueue.E042"),
    ({"p": {"FUNC": FUNC}}, "django_jobqueue.E041"),
    ({"p": {"FUNC": FUNC, "EVERY": -1}}, "django_jobqueue.E041"),
    ({"p": {**NIGHTLY, "FUNC": "tests.django.periodic_jobs.nosuch"}}, "django_jobqueue.E042"),
    ({"p": {**NIGHTLY, "FUNC": "no_such_module.f"}}, "django_jobqueue.E042"),
    ({"p": {**NIGHTLY, "FUNC": 42}}, "django_jobqueue.E042"),
    ({"p": {**NIGHTLY, "QUEUE": "missing"}}, "django_jobqueue.E043"),
    ({"p": {**NIGHTLY, "TIMEZONE": "Paris"}}, "django_jobqueue.E044"),
    ({"p": {**NIGHTLY, "MISSED": "all"}}, "django_jobqueue.E046"),
    ({"p": {**NIGHTLY, "RETRY": {"MAX": 0}}}, "django_jobqueue.E046"),
])
def test_each_mistake_has_its_check_id(redis_url, entries, expected):
    assert check_ids(redis_url, entries) == [expected]


def test_a_bad_entry_is_left_out_and_the_others_still_run(redis_url):
    with with_periodic(redis_url, {"good": NIGHTLY, "bad": {**NIGHTLY, "QUEUE": "missing"}}):
        assert [job.name for job in settings.load().periodic] == ["good"]


def jobqueue_periodic(*args: str) -> str:
    out = StringIO()
    call_command("jobqueue", "periodic", *args, stdout=out)
    return out.getvalue()


def test_the_command_lists_definitions_and_their_schedule(redis_url, connection):
    with with_periodic(redis_url, {"nightly": NIGHTLY, "poll": {"FUNC": FUNC, "EVERY": 30}}):
        before = jobqueue_periodic()
        assert "nightly" in before and "At 03:00" in before and "Europe/Paris" in before
        assert "not scheduled (no worker yet)" in before
        runner = periodic.periodic_runner("default")
        runner.sync(connection)
        fired = periodic.run_now("poll")
        rows = {row["name"]: row for row in json.loads(jobqueue_periodic("--json"))}
    assert rows["poll"]["schedule"] == "Every 30 seconds"
    assert rows["poll"]["last_job_id"] == fired.job_id
    assert rows["poll"]["last_status"] == "queued"
    assert rows["nightly"]["next_run"].startswith("20") and rows["nightly"]["enabled"]


def test_the_command_says_when_there_are_none(redis_url):
    with with_periodic(redis_url, None):
        assert "No periodic jobs" in jobqueue_periodic()


def test_a_worker_runs_only_the_periodic_jobs_of_its_connection(redis_url):
    entries = {"here": NIGHTLY}
    value = jobqueue_settings(redis_url, PERIODIC=entries)
    value["CONNECTIONS"]["other"] = {"URL": redis_url.rsplit("/", 1)[0] + "/1"}
    value["QUEUES"]["elsewhere"] = {"CONNECTION": "other"}
    value["PERIODIC"]["there"] = {**NIGHTLY, "QUEUE": "elsewhere"}
    with override_settings(JOBQUEUE=value):
        assert isinstance(periodic.periodic_runner("default"), PeriodicRunner)
        assert list(periodic.periodic_runner("default").jobs) == ["here"]
        assert list(periodic.periodic_runner("other").jobs) == ["there"]


def test_runworker_enqueues_the_ticks_and_runs_them(redis_url, connection):
    proc = runworker(redis_url, "default", "low", "--processes", "1",
                     settings="tests.django.settings_periodic")
    try:
        wait_until(lambda: connection.llen(RAN) >= 2, timeout=30,
                   message="no periodic run")
    finally:
        proc.send_signal(signal.SIGTERM)
        code, out, err = finish(proc)
    assert code == 0, err
    runs = [entry.decode().split() for entry in connection.lrange(RAN, 0, -1)]
    assert {name for _, name, _ in runs} == {"every-second"}
    ticks = [int(tick) for _, _, tick in runs]
    assert len(set(ticks)) == len(ticks)
    assert "periodic job every-second: enqueued job" in err
    assert connection.zscore("jq:periodics", "nightly") is not None  # scheduled, not due
    assert django_settings.JOBQUEUE.get("PERIODIC") is None  # the tests' own settings


def test_cron_without_croniter_is_e045_and_every_still_works(redis_url, monkeypatch):
    monkeypatch.setitem(sys.modules, "croniter", None)  # as if the extra were not installed
    entries = {"nightly": NIGHTLY, "poll": {"FUNC": FUNC, "EVERY": 30}}
    assert check_ids(redis_url, entries) == ["django_jobqueue.E045"]
    with with_periodic(redis_url, entries):
        assert [job.name for job in settings.load().periodic] == ["poll"]
