"""Values the API accepts, and corrupt values in Redis, never give a 500: every time shown
goes through one guarded formatter (a time the current zone cannot show is shown in UTC,
with a note; one that is no time is shown as text, with a note), and a stored id becomes a
link only when it is a valid job id (else it is shown as escaped text).

The test client re-raises a view's exception, so a 500 fails these tests with its
traceback."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from django.test.utils import override_settings

from django_jobqueue import Retry, Worker
from django_jobqueue.engine import keys, scripts
from tests.admin import jobs
from tests.admin.helpers import (
    ADMIN,
    STATES,
    WORKERS,
    dashboard_counts,
    field_cell,
    finished_job,
    listed_ids,
    parse,
)

pytestmark = pytest.mark.timeout(60)

UTC = timezone.utc
#: the pages that read every queue's counts (and the oldest queued job)
OVERVIEW_PAGES = (ADMIN, WORKERS, f"{ADMIN}-/stats.json", f"{ADMIN}-/metrics")


def _get_ok(client, url: str, **params):
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return response


# --------------------------------------------------------------------------- times


def test_a_job_due_at_the_end_of_year_9999_seen_from_paris(admin_client, queue):
    """23:30 UTC on 9999-12-31 is year 10000 in Paris: shown in UTC, saying so."""
    with override_settings(TIME_ZONE="Europe/Paris"):
        job = queue.enqueue_at(datetime(9999, 12, 31, 23, 30, tzinfo=UTC), jobs.add, 1, 2)
        tab = _get_ok(admin_client, f"{ADMIN}default/scheduled/")
        row = parse(tab).one("tr", data_job_id=job.id)
        due = row.find_all("td", class_="when")[0]
        assert due.clean_text.startswith("9999-12-31 23:30:00 UTC"), due.clean_text
        assert "Europe/Paris" in (due.one("span", class_="note").get("title") or "")
        page = parse(_get_ok(admin_client, f"{ADMIN}default/job/{job.id}/"))
        scheduled = field_cell(page, "Scheduled for").clean_text
        assert scheduled.startswith("9999-12-31 23:30:00 UTC"), scheduled
        assert "Europe/Paris" in scheduled
        # the times of now are in Paris time, as usual
        assert re.search(r"\d\d:\d\d:\d\d CES?T$", field_cell(page, "Created").clean_text)
        for url in OVERVIEW_PAGES:
            _get_ok(admin_client, url)


def test_a_retry_due_past_year_9999(admin_client, queue):
    """Retry(max=1, interval=10**12) after one failure: due in year 33,000 or so, which no
    datetime holds; the due time is shown as the stored number, with a note."""
    job = queue.enqueue(jobs.fail, "once", retry=Retry(max=1, interval=10**12))
    Worker([queue], connection=queue.connection).work(burst=True, max_jobs=1)
    assert job.get_status(refresh=True) == "scheduled"
    page = parse(_get_ok(admin_client, f"{ADMIN}default/job/{job.id}/"))
    scheduled = field_cell(page, "Next attempt due").clean_text  # (a retry waits)
    assert re.match(r"1\d{12}(\.\d+)? ", scheduled) and "not a time" in scheduled, scheduled
    assert "ValueError: once" in field_cell(page, "Traceback").clean_text
    tab = _get_ok(admin_client, f"{ADMIN}default/scheduled/")
    due = parse(tab).one("tr", data_job_id=job.id).find_all("td", class_="when")[0]
    assert due.clean_text.startswith("1") and due.find("span", class_="problem") is not None
    _get_ok(admin_client, f"{ADMIN}default/scheduled/", q=job.id)
    for url in OVERVIEW_PAGES:
        _get_ok(admin_client, url)


@pytest.mark.parametrize("value", ["-1e300", "nan", "inf", "-inf", "-62135596000",
                                   "99999999999999", "253402300800", "later", ""])
def test_a_corrupt_enqueued_at_of_the_oldest_queued_job(admin_client, queue, value):
    """One bad field must not blind the monitoring: every page, stats and metrics."""
    oldest = queue.enqueue(jobs.add, 1, 1)
    newer = queue.enqueue(jobs.add, 2, 2)
    queue.connection.hset(keys.job(oldest.id), "enqueued_at", value)
    with override_settings(TIME_ZONE="America/Chicago"):
        for url in OVERVIEW_PAGES:
            _get_ok(admin_client, url)
        for state in STATES:
            _get_ok(admin_client, f"{ADMIN}default/{state}/")
        assert dashboard_counts(_get_ok(admin_client, ADMIN))["default"]["queued"] == 2
        stats = _get_ok(admin_client, f"{ADMIN}-/stats.json").json()["queues"]["default"]
        assert stats["queued"] == 2
        assert isinstance(stats["oldest_job_age"], float) and 0 <= stats["oldest_job_age"]
        metrics = _get_ok(admin_client, f"{ADMIN}-/metrics").content.decode()
        assert 'jobqueue_jobs{queue="default",state="queued"} 2' in metrics
        assert re.search(r'jobqueue_oldest_job_age_seconds\{queue="default"\} \d+\.\d{3}\n',
                         metrics)
        listing = _get_ok(admin_client, f"{ADMIN}default/")
        assert listed_ids(listing) == [oldest.id, newer.id]
        page = parse(_get_ok(admin_client, f"{ADMIN}default/job/{oldest.id}/"))
        assert field_cell(page, "Function").clean_text == "tests.admin.jobs.add"
        assert field_cell(page, "Args").clean_text == "(1, 1)"
        _get_ok(admin_client, f"{ADMIN}default/", q=oldest.id)


def test_a_created_at_of_year_one_seen_from_chicago(admin_client, queue):
    """-62135596000 is 0001-01-01 00:13:20 UTC, which is year 0 in Chicago."""
    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), mapping={"created_at": "-62135596000",
                                                     "enqueued_at": "-62135596000"})
    with override_settings(TIME_ZONE="America/Chicago"):
        page = parse(_get_ok(admin_client, f"{ADMIN}default/job/{job.id}/"))
        created = field_cell(page, "Created").clean_text
        assert created.startswith("0001-01-01 00:13:20 UTC"), created
        assert "America/Chicago" in created
        assert field_cell(page, "Args").clean_text == "(1, 2)"
        row = parse(_get_ok(admin_client, f"{ADMIN}default/")).one("tr", data_job_id=job.id)
        assert row.find_all("td", class_="when")[0].clean_text.startswith("0001-01-01")
        for url in OVERVIEW_PAGES:
            _get_ok(admin_client, url)


@pytest.mark.parametrize(("started", "ended"), [
    (1e300, 1700000001), (1700000000, float("nan")), (-62135596000, 253402299000),
    ("yesterday", None), (None, float("inf")),
])
def test_odd_times_of_an_execution(admin_client, queue, started, ended):
    from django_jobqueue.engine.results import Result
    from django_jobqueue.engine.serializers import dumps_signed, resolve_serializer

    job = finished_job(queue)
    entry = dumps_signed(resolve_serializer(None),
                         {"t": Result.Type.SUCCESSFUL.value, "v": 5, "w": "w1",
                          "s": started, "f": ended})
    queue.connection.lpush(keys.results(job.id), entry)
    with override_settings(TIME_ZONE="Europe/Paris"):
        response = _get_ok(admin_client, f"{ADMIN}default/job/{job.id}/")
    rows = parse(response).one("table", id="jobqueue-results").one("tbody").find_all("tr")
    assert len(rows) == 2
    assert field_cell(parse(response), "Args").clean_text == "(1, 2)"


def _heartbeat(connection, **overrides: str) -> None:
    """A worker record as a live worker's heartbeat writes it, with some fields replaced."""
    record = {"name": "w1", "hostname": "h", "pid": "1", "queues": "default",
              "birth": "1700000000", "state": "busy", "current_job": "",
              "successful_job_count": "1", "failed_job_count": "0",
              "total_working_time": "0", **overrides}
    scripts.get("heartbeat")(connection, record["name"], 60, 60, "", "", "",
                             *[x for kv in record.items() for x in kv])


@pytest.mark.parametrize(("value", "zone"), [("-62135596000", "America/Chicago"),
                                             ("253402299000", "Europe/Paris")])
def test_a_worker_started_at_the_edge_of_time(admin_client, queue, value, zone):
    """Year 1 seen from Chicago, and the last minutes of 9999 seen from Paris."""
    _heartbeat(queue.connection, birth=value)
    with override_settings(TIME_ZONE=zone):
        response = _get_ok(admin_client, WORKERS)
        cells = parse(response).one("tr", data_worker="w1").find_all("td")
        assert "UTC" in cells[8].clean_text, cells[8].clean_text
        for url in OVERVIEW_PAGES:
            _get_ok(admin_client, url)


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("bad", ["a/b", "</script>", "x" * 200, "é"])
def test_a_dependency_id_that_is_not_a_job_id_is_shown_as_text(admin_client, queue, bad):
    parent = queue.enqueue(jobs.add, 1, 1)
    child = queue.enqueue(jobs.add, 2, 2, depends_on=parent)
    queue.connection.hset(keys.job(child.id), "dependency_ids", f"{parent.id},{bad}")
    response = _get_ok(admin_client, f"{ADMIN}default/job/{child.id}/")
    table = parse(response).one("table", id="jobqueue-job")
    rows = [r for r in table.find_all("tr") if r.one("th").clean_text == "Dependency"]
    assert [r.one("td").clean_text for r in rows] == [parent.id, bad]
    assert rows[0].one("a").get("href") == f"{ADMIN}default/job/{parent.id}/"
    assert rows[1].find("a") is None
    assert "<td></script>" not in response.content.decode()
    _get_ok(admin_client, f"{ADMIN}default/deferred/")


@pytest.mark.parametrize("bad", ["x/y", "</script>", "a b", "job:1"])
def test_a_worker_whose_current_job_is_not_a_job_id(admin_client, queue, bad):
    _heartbeat(queue.connection, current_job=bad)
    response = _get_ok(admin_client, WORKERS)
    cell = parse(response).one("tr", data_worker="w1").find_all("td")[4]
    assert cell.clean_text == bad and cell.find("a") is None
    assert "<td></script>" not in response.content.decode()
    for url in OVERVIEW_PAGES:
        _get_ok(admin_client, url)
    assert _get_ok(admin_client, f"{ADMIN}-/stats.json").json()["workers"][0][
        "current_job"] == bad


def test_a_listed_id_that_is_not_a_job_id_is_not_linked(admin_client, queue):
    """A tab's sorted set holding a member no job id looks like (written by hand)."""
    good = queue.enqueue(jobs.add, 1, 1)
    for bad in ("a/b", "</script>"):
        queue.connection.hset(keys.job(bad), mapping={"origin": "default", "status": "queued",
                                                      "func_name": "tests.admin.jobs.add"})
        queue.connection.zadd(keys.queue("default"), {bad: 0.5})
    for params in ({}, {"q": "a/b"}, {"q": "jobs.add"}):
        response = _get_ok(admin_client, f"{ADMIN}default/", **params)
        doc = parse(response)
        for bad in ("a/b", "</script>"):
            row = doc.find("tr", data_job_id=bad)
            if row is None:
                continue
            assert row.find("a") is None, (params, bad)
            assert row.find("input", name="_selected_job") is None
        if params.get("q") != "a/b":
            assert doc.one("tr", data_job_id=good.id).one("a", class_="job-link")
