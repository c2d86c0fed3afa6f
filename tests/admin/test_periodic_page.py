"""The admin's "Periodic jobs" page and its actions (run now, disable, enable), through
Django's test client against the test Redis: what it shows before and after a worker
scheduled the jobs, permissions, logging, and bad URLs (404/405, never a 500)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test.utils import override_settings

from django_jobqueue import get_queue
from django_jobqueue.integration import periodic
from tests.admin.conftest import client_for
from tests.admin.helpers import MOUNT, messages_of, parse
from tests.django.conftest import jobqueue_settings

PAGE = "/admin/django_jobqueue/periodic/"
FUNC = "tests.django.periodic_jobs.record"
PERIODIC = {
    "nightly": {"FUNC": FUNC, "CRON": "0 3 * * *", "TIMEZONE": "Europe/Paris"},
    "poll": {"FUNC": FUNC, "EVERY": 30, "QUEUE": "high"},
}


@pytest.fixture(autouse=True)
def periodic_settings(redis_url):
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url, PERIODIC=PERIODIC)):
        yield


def row(response, name: str):
    return parse(response).one("tr", **{"data-periodic": name})


def cell(response, name: str, col: str) -> str:
    return row(response, name).one(**{"data-col": col}).clean_text


def scheduled(connection) -> None:
    periodic.periodic_runner("default").sync(connection)


def test_the_page_lists_each_definition_before_any_worker(admin_client):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    assert cell(response, "nightly", "schedule").startswith("At 03:00")
    assert cell(response, "nightly", "timezone") == "Europe/Paris"
    assert "not scheduled yet" in cell(response, "nightly", "next")
    assert cell(response, "poll", "queue") == "high"
    assert cell(response, "poll", "last") == "—"


def test_once_scheduled_it_shows_the_next_run_and_the_last_one(admin_client, connection):
    scheduled(connection)
    fired = periodic.run_now("poll")
    response = admin_client.get(PAGE)
    assert "not scheduled" not in cell(response, "poll", "next")
    assert "20" in cell(response, "poll", "next")  # a date
    last = row(response, "poll").one(**{"data-col": "last"})
    assert last.one("a").get("href").endswith(f"/high/job/{fired.job_id}/")
    assert last.one(**{"data-col": "last-status"}).clean_text == "queued"


def test_run_now_enqueues_a_job_and_logs_it(users, connection):
    scheduled(connection)
    client = client_for(users["operator"])
    response = client.post(f"{PAGE}poll/run/", follow=True)
    assert response.status_code == 200
    [job] = get_queue("high").jobs
    assert job.periodic == "poll" and job.func_name == FUNC
    assert any(job.id in m for m in messages_of(response))
    entry = LogEntry.objects.get(object_id="poll")
    assert job.id in entry.change_message and entry.user == users["operator"]


def test_disable_then_enable(users, connection):
    scheduled(connection)
    client = client_for(users["operator"])
    client.post(f"{PAGE}nightly/disable/")
    response = client.get(PAGE)
    assert cell(response, "nightly", "enabled") == "disabled"
    assert row(response, "nightly").find("button", **{"data-action": "enable"}) is not None
    client.post(f"{PAGE}nightly/enable/")
    assert cell(client.get(PAGE), "nightly", "enabled") == "yes"
    assert [e.change_message for e in LogEntry.objects.order_by("pk")] == [
        "Disabled periodic job nightly.", "Enabled periodic job nightly."]


def test_disable_before_any_worker_says_why_it_cannot(users):
    client = client_for(users["operator"])
    response = client.post(f"{PAGE}nightly/disable/", follow=True)
    assert any("not scheduled yet" in m for m in messages_of(response))
    assert not LogEntry.objects.exists()


def test_a_viewer_sees_no_buttons_and_may_not_act(users, connection):
    scheduled(connection)
    client = client_for(users["viewer"])
    response = client.get(PAGE)
    table = parse(response).one("table", id="jobqueue-periodic")
    assert response.status_code == 200 and table.find("button") is None
    assert client.post(f"{PAGE}poll/run/").status_code == 403
    assert get_queue("high").count == 0
    assert client_for(users["staff"]).get(PAGE).status_code == 403


@pytest.mark.parametrize(("url", "method", "status"), [
    (f"{PAGE}nosuch/run/", "post", 404),
    (f"{PAGE}poll/explode/", "post", 404),
    (f"{PAGE}poll/run/", "get", 405),
    (f"{PAGE}%00%FF/run/", "post", 404),
])
def test_bad_urls_are_404_or_405(admin_client, url, method, status):
    assert getattr(admin_client, method)(url).status_code == status
    assert get_queue("high").count == 0


def test_the_admin_index_and_the_history_link_lead_here(admin_client, users, connection):
    assert PAGE in admin_client.get("/admin/").content.decode()
    scheduled(connection)
    client_for(users["operator"]).post(f"{PAGE}poll/disable/")
    response = admin_client.get("/admin/django_jobqueue/queue/poll/change/")
    assert response.status_code == 302 and response["Location"].endswith("/periodic/")


def test_the_page_is_mounted_outside_the_admin_too(admin_client):
    response = admin_client.get(f"{MOUNT}-/periodic/")
    assert response.status_code == 200 and row(response, "poll") is not None


def test_run_now_of_a_definition_that_broke_says_so_without_a_500(users, redis_url):
    value = jobqueue_settings(redis_url, PERIODIC=PERIODIC)
    value["QUEUES"]["high"]["RETRY"] = {"MAX": 0}  # the queue "poll" uses is now unusable
    with override_settings(JOBQUEUE=value):
        response = client_for(users["operator"]).post(f"{PAGE}poll/run/", follow=True)
    assert response.status_code == 200
    assert any("cannot be enqueued" in m for m in messages_of(response))
    assert not LogEntry.objects.exists()


def test_a_ticks_job_page_names_its_periodic_job_and_tick(admin_client, connection):
    runner = periodic.periodic_runner("default")
    runner.sync(connection)
    stored = int(connection.zscore("jq:periodics", "poll"))
    # what the due script answers once the tick has come
    [fired] = runner.run_due(connection, [str(stored).encode(), b"poll", str(stored).encode()])
    assert fired.outcome == "fired"
    page = admin_client.get(f"/admin/django_jobqueue/queue/high/job/{fired.job_id}/")
    text = parse(page).clean_text
    assert "Periodic job" in text and "poll" in text and "Tick" in text
