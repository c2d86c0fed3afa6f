"""What operators do: on one job, on selected rows, on a whole queue; each a CSRF-protected
POST leaving a message and an admin LogEntry; a GET never changes anything."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.test import Client

from django_jobqueue import JobStatus, Queue, get_queue
from django_jobqueue.engine import keys
from django_jobqueue.integration import clients
from tests.admin import jobs
from tests.admin.helpers import (
    ADMIN,
    CONFIRM,
    canceled_job,
    csrf_token,
    deferred_job,
    failed_job,
    finished_job,
    listed_ids,
    messages_of,
    parse,
    running_job,
    scheduled_job,
    work,
)
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(120)


def job_url(job, action: str = "") -> str:
    return f"{ADMIN}default/job/{job.id}/" + (f"{action}/" if action else "")


def status(job) -> str | None:
    return job.connection.hget(keys.job(job.id), "status") and \
        job.connection.hget(keys.job(job.id), "status").decode()


def log_messages() -> list[str]:
    return [e.change_message for e in LogEntry.objects.order_by("pk")]


def make_queued(queue):
    return queue.enqueue(jobs.add, 1, 1)


# --------------------------------------------------------------------------- one job


@pytest.mark.parametrize("make", [failed_job, canceled_job, finished_job])
def test_requeue_a_job(admin_client, queue, make):
    job = make(queue)
    response = admin_client.post(job_url(job, "requeue"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0] == job_url(job)
    assert status(job) == "queued"
    assert job.id in queue.get_job_ids()
    assert messages_of(response) == ["1 job requeued."]
    entry = LogEntry.objects.get()
    assert entry.object_id == job.id and entry.action_flag == CHANGE
    assert job.id in entry.change_message and "default" in entry.change_message
    assert entry.user.username == "root"
    # and it runs again
    work(queue)
    assert status(job) in ("finished", "failed")


@pytest.mark.parametrize("make", [make_queued, scheduled_job, deferred_job])
def test_cancel_a_job(admin_client, queue, make):
    job = make(queue)
    response = admin_client.post(job_url(job, "cancel"), follow=True)
    assert response.status_code == 200
    assert status(job) == "canceled"
    assert job.id in queue.canceled_job_registry
    assert job.id not in queue.get_job_ids()
    assert job.id not in queue.scheduled_job_registry
    assert job.id not in queue.deferred_job_registry
    assert messages_of(response) == ["1 job canceled."]
    assert LogEntry.objects.get().object_id == job.id


def test_stop_a_running_job(admin_client, queue):
    with running_job(queue) as (job, worker):
        response = admin_client.post(job_url(job, "stop"), follow=True)
        assert response.status_code == 200
        assert messages_of(response) == ["1 job asked to stop."]
        wait_until(lambda: status(job) == JobStatus.STOPPED, timeout=15,
                   message="the worker never stopped the job")
        assert job.id in queue.failed_job_registry
        job.refresh()
        assert "stopped by request" in (job.exc_info or "")
        assert job.latest_result().type.name == "STOPPED"
    assert LogEntry.objects.get().object_id == job.id
    page = parse(admin_client.get(job_url(job)))
    assert page.one("span", id="jobqueue-job-status").clean_text == "stopped"
    # a stopped job may be requeued
    assert admin_client.post(job_url(job, "requeue")).status_code == 302
    assert status(job) == "queued"


@pytest.fixture
def worker_processes(redis_url, tmp_path):
    """Worker subprocesses (python -m django_jobqueue.engine worker), SIGKILLed at the end."""
    from tests.engine.jobs_faults import WorkerProcesses, subprocesses

    with subprocesses(WorkerProcesses, redis_url, tmp_path, "admin-tests-signing-key") as procs:
        yield procs


def test_stop_a_job_running_in_a_worker_process(admin_client, queue, worker_processes):
    from tests.engine.jobs_faults import has_started, tracked

    proc = worker_processes.start("admin-stopper", queue="default")
    job = queue.enqueue(tracked, "held", hold_runs=1, limit=60, job_timeout=120)
    wait_until(lambda: has_started(queue.connection, "held"), timeout=20,
               message=f"job never started\n{worker_processes.logs()}")
    assert listed_ids(admin_client.get(f"{ADMIN}default/started/")) == [job.id]
    response = admin_client.post(job_url(job, "stop"), follow=True)
    assert messages_of(response) == ["1 job asked to stop."]
    wait_until(lambda: status(job) == "stopped", timeout=15,
               message=f"the worker never stopped the job\n{worker_processes.logs()}")
    doc = parse(admin_client.get(job_url(job)))
    assert doc.one("span", id="jobqueue-job-status").clean_text == "stopped"
    assert "stopped" in doc.one("table", id="jobqueue-results").clean_text
    assert job.id in listed_ids(admin_client.get(f"{ADMIN}default/failed/"))
    assert proc.poll() is None  # the worker lives on


@pytest.mark.parametrize("make", [make_queued, failed_job, finished_job, canceled_job,
                                  scheduled_job, deferred_job])
def test_delete_a_job(admin_client, queue, make):
    job = make(queue)
    tab = {"make_queued": "queued", "failed_job": "failed", "finished_job": "finished",
           "canceled_job": "canceled", "scheduled_job": "scheduled",
           "deferred_job": "deferred"}[make.__name__]
    response = admin_client.post(job_url(job, "delete"))
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}default/{tab}/"
    assert not queue.connection.exists(keys.job(job.id))
    followed = admin_client.get(response["Location"])
    assert messages_of(followed) == ["1 job deleted."]
    assert job.id not in listed_ids(followed)
    entry = LogEntry.objects.get()
    assert entry.object_id == job.id and entry.action_flag == DELETION
    assert admin_client.get(job_url(job)).status_code == 404


def test_delete_a_running_job(admin_client, queue):
    with running_job(queue, limit=2) as (job, _worker):  # a deleted job cannot be stopped
        response = admin_client.post(job_url(job, "delete"), follow=True)
        assert response.status_code == 200
        assert messages_of(response) == ["1 job deleted."]
        assert not queue.connection.exists(keys.job(job.id))


@pytest.mark.parametrize(("make", "action"), [
    (make_queued, "requeue"), (scheduled_job, "requeue"), (failed_job, "cancel"),
    (finished_job, "cancel"), (make_queued, "stop"), (failed_job, "stop"),
])
def test_an_action_the_status_does_not_allow_changes_nothing(admin_client, queue, make, action):
    job = make(queue)
    before = status(job)
    response = admin_client.post(job_url(job, action), follow=True)
    assert response.status_code == 200
    assert status(job) == before
    shown = messages_of(response)
    assert len(shown) == 1 and shown[0].startswith("1 job not ") and before in shown[0]
    assert LogEntry.objects.count() == 0
    assert not queue.connection.keys(keys.stop("*"))


def test_each_action_is_available_to_an_operator(users, queue):
    from tests.admin.helpers import client_for

    client = client_for(users["operator"])
    job = failed_job(queue)
    assert client.post(job_url(job, "requeue")).status_code == 302
    assert status(job) == "queued"
    assert LogEntry.objects.get().user.username == "operator"


# --------------------------------------------------------------------------- GET changes nothing


@pytest.mark.parametrize(("make", "action"), [
    (failed_job, "requeue"), (make_queued, "cancel"), (failed_job, "delete"),
    (make_queued, "delete"), (make_queued, "stop"),
])
def test_get_to_a_job_action_url_is_405_and_changes_nothing(admin_client, queue, make, action):
    job = make(queue)
    before = status(job)
    for method in (admin_client.get, admin_client.head):
        response = method(job_url(job, action))
        assert response.status_code == 405
    assert status(job) == before
    assert LogEntry.objects.count() == 0


def test_get_to_a_running_jobs_stop_url_changes_nothing(admin_client, queue):
    with running_job(queue) as (job, _worker):
        assert admin_client.get(job_url(job, "stop")).status_code == 405
        assert not queue.connection.keys(keys.stop("*"))
        assert status(job) == "started"


@pytest.mark.parametrize("action", ["requeue-failed", "delete-failed", "empty"])
def test_get_to_a_queue_action_is_a_confirmation_page(admin_client, queue, action):
    failed = [failed_job(queue) for _ in range(3)]
    queued = [make_queued(queue) for _ in range(2)]
    url = f"{ADMIN}default/-/{action}/"
    response = admin_client.get(url)
    assert response.status_code == 200
    doc = parse(response)
    form = doc.one("div", id="content-main").one("form", method="post")
    assert form.get("action") in (None, "", url)
    assert form.one(id="jobqueue-confirm").get("type") == "submit"  # <button> or <input>
    assert form.find("input", name="csrfmiddlewaretoken") is not None
    count = "3 failed" if action != "empty" else "2 queued"
    assert count in doc.one("div", id="content-main").clean_text
    # nothing changed
    assert len(queue.failed_job_registry) == 3 and queue.count == 2
    assert all(status(j) == "failed" for j in failed)
    assert all(status(j) == "queued" for j in queued)
    assert LogEntry.objects.count() == 0


# --------------------------------------------------------------------------- bulk


def _bulk(client, state, action, ids, follow=True, **extra):
    return client.post(f"{ADMIN}default/{state}/",
                       {"action": action, "_selected_job": ids, "index": "0", **extra},
                       follow=follow)


def test_bulk_requeue_selected_failed_jobs(admin_client, queue):
    failed = [failed_job(queue) for _ in range(4)]
    chosen = [j.id for j in failed[:3]]
    response = _bulk(admin_client, "failed", "requeue", chosen)
    assert response.status_code == 200
    assert response.redirect_chain[0][0].startswith(f"{ADMIN}default/failed/")
    assert messages_of(response) == ["3 jobs requeued."]
    assert [status(j) for j in failed] == ["queued", "queued", "queued", "failed"]
    assert listed_ids(response) == [failed[3].id]
    assert sorted(e.object_id for e in LogEntry.objects.all()) == sorted(chosen)


def test_bulk_cancel_selected_queued_jobs(admin_client, queue):
    queued = [make_queued(queue) for _ in range(3)]
    response = _bulk(admin_client, "queued", "cancel", [j.id for j in queued[:2]])
    assert messages_of(response) == ["2 jobs canceled."]
    assert [status(j) for j in queued] == ["canceled", "canceled", "queued"]
    assert LogEntry.objects.count() == 2


def test_bulk_delete_selected_jobs(admin_client, queue):
    finished = [finished_job(queue) for _ in range(3)]
    response = _bulk(admin_client, "finished", "delete", [j.id for j in finished])
    assert messages_of(response) == ["3 jobs deleted."]
    assert not any(queue.connection.exists(keys.job(j.id)) for j in finished)
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 3


def test_bulk_stop_a_running_job(admin_client, queue):
    with running_job(queue) as (job, _worker):
        response = _bulk(admin_client, "started", "stop", [job.id])
        assert messages_of(response) == ["1 job asked to stop."]
        wait_until(lambda: status(job) == "stopped", timeout=15)
    assert LogEntry.objects.get().object_id == job.id


def test_bulk_reports_the_jobs_it_could_not_act_on(admin_client, queue):
    failed = failed_job(queue)
    queued = make_queued(queue)
    response = _bulk(admin_client, "failed", "requeue", [failed.id, queued.id, "f" * 32])
    shown = messages_of(response)
    assert shown[0] == "1 job requeued."
    assert shown[1].startswith("2 jobs not requeued")
    assert "queued" in shown[1] and "no longer exist" in shown[1]
    assert status(failed) == "queued"
    assert [e.object_id for e in LogEntry.objects.all()] == [failed.id]


def test_bulk_without_selection_or_action_changes_nothing(admin_client, queue):
    failed = failed_job(queue)
    response = _bulk(admin_client, "failed", "requeue", [])
    assert response.status_code == 200
    assert messages_of(response) == ["Select the jobs to act on first."]
    response = _bulk(admin_client, "failed", "", [failed.id])
    assert messages_of(response) == ["Choose an action."]
    response = _bulk(admin_client, "failed", "explode", [failed.id])
    assert response.status_code == 200
    assert messages_of(response) == ["Choose an action."]
    assert status(failed) == "failed"
    assert LogEntry.objects.count() == 0


def test_bulk_keeps_the_page_parameters(admin_client, queue):
    failed = [failed_job(queue) for _ in range(2)]
    response = admin_client.post(f"{ADMIN}default/failed/?per_page=10&order=oldest",
                                 {"action": "delete", "_selected_job": [failed[0].id]})
    assert response.status_code == 302
    assert response["Location"].endswith("per_page=10&order=oldest")


# --------------------------------------------------------------------------- whole queue


def test_requeue_all_failed_jobs(admin_client, queue):
    failed = [failed_job(queue) for _ in range(3)]
    finished = finished_job(queue)
    response = admin_client.post(f"{ADMIN}default/-/requeue-failed/", CONFIRM, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0] == f"{ADMIN}default/failed/"
    assert messages_of(response) == ["3 jobs requeued."]
    assert all(status(j) == "queued" for j in failed)
    assert status(finished) == "finished"
    entry = LogEntry.objects.get()
    assert entry.object_id == "default" and entry.action_flag == CHANGE
    assert entry.change_message == ("Requeue all failed jobs of queue default "
                                    "(3 jobs failed when confirmed).")


def test_delete_all_failed_jobs(admin_client, queue):
    failed = [failed_job(queue) for _ in range(3)]
    queued = make_queued(queue)
    response = admin_client.post(f"{ADMIN}default/-/delete-failed/", CONFIRM, follow=True)
    assert messages_of(response) == ["3 jobs deleted."]
    assert not any(queue.connection.exists(keys.job(j.id)) for j in failed)
    assert len(queue.failed_job_registry) == 0
    assert status(queued) == "queued"
    entry = LogEntry.objects.get()
    assert entry.object_id == "default" and entry.action_flag == CHANGE  # the queue stays


def test_empty_a_queue(admin_client, queue):
    failed = failed_job(queue)
    queued = [make_queued(queue) for _ in range(4)]
    high = get_queue("high").enqueue(jobs.add, 1, 1)
    response = admin_client.post(f"{ADMIN}default/-/empty/", CONFIRM, follow=True)
    assert response.redirect_chain[0][0] == f"{ADMIN}default/queued/"
    shown = messages_of(response)
    assert len(shown) == 1 and shown[0].startswith("4 jobs deleted")
    assert queue.count == 0
    assert not any(queue.connection.exists(keys.job(j.id)) for j in queued)
    assert status(failed) == "failed"
    assert status(high) == "queued"
    assert LogEntry.objects.get().object_id == "default"


def test_queue_actions_through_their_confirmation_page(users, queue):
    """As a browser: the tab's link, the confirmation page's form, its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    for _ in range(2):
        failed_job(queue)
    tab = parse(client.get(f"{ADMIN}default/failed/"))
    link = tab.one("a", data_queue_action="requeue-failed").get("href")
    confirm = client.get(link)
    form = parse(confirm).one("div", id="content-main").one("form", method="post")
    token = form.one("input", name="csrfmiddlewaretoken").get("value")
    fields = {i.get("name"): i.get("value") for i in form.find_all("input") if i.get("name")}
    assert fields["csrfmiddlewaretoken"] == token
    response = client.post(form.get("action") or link, fields, follow=True)
    assert messages_of(response) == ["2 jobs requeued."]
    assert queue.count == 2


@pytest.mark.parametrize(("action", "message"), [
    ("requeue-failed", "2500 jobs requeued."),
    ("delete-failed", "2500 jobs deleted."),
    ("empty", "2500 jobs deleted; the queue is empty."),
])
def test_queue_actions_in_batches_at_scale(admin_client, queue, count_round_trips, action,
                                          message):
    """2,500 jobs (more than two batches of 1000): all done, one message, a round trip per
    batch (never one huge call, never one call per job)."""
    n = 2500
    func = jobs.add if action == "empty" else jobs.fail
    made = queue.enqueue_many([Queue.prepare_data(func, (1, 1) if action == "empty" else ("x",))
                               for _ in range(n)])
    if action != "empty":
        work(queue)
        assert len(queue.failed_job_registry) == n
    assert admin_client.get(f"{ADMIN}default/-/{action}/").status_code == 200  # warm up
    with count_round_trips(clients.get_client("default")) as counter:
        response = admin_client.post(f"{ADMIN}default/-/{action}/", CONFIRM)
    assert 3 <= counter.value <= 10, counter.value
    assert messages_of(admin_client.get(response["Location"])) == [message]
    if action == "requeue-failed":
        assert len(queue.failed_job_registry) == 0
        assert queue.count == n
        assert status(made[0]) == "queued" and status(made[-1]) == "queued"
    else:
        assert len(queue.failed_job_registry) == 0 and queue.count == 0
        assert not queue.connection.exists(keys.job(made[0].id))
        assert not queue.connection.exists(keys.job(made[-1].id))
    assert LogEntry.objects.count() == 1


@pytest.mark.parametrize(("action", "message"), [
    ("requeue-failed", "1 job requeued."), ("delete-failed", "1 job deleted."),
    ("empty", "1 job deleted; the queue is empty."),
])
def test_queue_action_on_one_job_says_job(admin_client, queue, action, message):
    failed_job(queue)
    make_queued(queue)
    response = admin_client.post(f"{ADMIN}default/-/{action}/", CONFIRM, follow=True)
    assert messages_of(response) == [message]


@pytest.mark.parametrize("action", ["requeue-failed", "delete-failed", "empty"])
def test_queue_action_on_an_empty_queue(admin_client, queue, action):
    response = admin_client.post(f"{ADMIN}default/-/{action}/", CONFIRM, follow=True)
    assert response.status_code == 200
    shown = messages_of(response)
    assert len(shown) == 1 and shown[0].startswith("0 jobs")


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_client(users) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["superuser"])
    return client


@pytest.mark.parametrize("action", ["requeue", "delete"])
def test_job_action_without_csrf_token_is_403_and_changes_nothing(csrf_client, queue, action):
    job = failed_job(queue)
    response = csrf_client.post(job_url(job, action))
    assert response.status_code == 403
    assert status(job) == "failed"
    assert LogEntry.objects.count() == 0
    # with the page's token it works (the 403 was the CSRF check)
    token = csrf_token(csrf_client, job_url(job))
    response = csrf_client.post(job_url(job, action), {"csrfmiddlewaretoken": token, **CONFIRM})
    assert response.status_code == 302
    assert status(job) == ("queued" if action == "requeue" else None)


def test_cancel_and_stop_without_csrf_token_are_403(csrf_client, queue):
    job = make_queued(queue)
    assert csrf_client.post(job_url(job, "cancel")).status_code == 403
    assert status(job) == "queued"
    with running_job(queue) as (running, _worker):
        assert csrf_client.post(job_url(running, "stop")).status_code == 403
        assert not queue.connection.keys(keys.stop("*"))
        assert status(running) == "started"
    assert LogEntry.objects.count() == 0


def test_bulk_without_csrf_token_is_403_and_changes_nothing(csrf_client, queue):
    failed = [failed_job(queue) for _ in range(2)]
    response = csrf_client.post(f"{ADMIN}default/failed/",
                                {"action": "delete", "_selected_job": [j.id for j in failed]})
    assert response.status_code == 403
    assert all(status(j) == "failed" for j in failed)
    token = csrf_token(csrf_client, f"{ADMIN}default/failed/")
    response = csrf_client.post(f"{ADMIN}default/failed/",
                                {"action": "delete", "_selected_job": [j.id for j in failed],
                                 "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not any(status(j) for j in failed)


@pytest.mark.parametrize("action", ["requeue-failed", "delete-failed", "empty"])
def test_queue_action_without_csrf_token_is_403_and_changes_nothing(csrf_client, queue,
                                                                    action):
    failed = failed_job(queue)
    queued = make_queued(queue)
    response = csrf_client.post(f"{ADMIN}default/-/{action}/", CONFIRM)
    assert response.status_code == 403
    assert status(failed) == "failed" and status(queued) == "queued"
    assert LogEntry.objects.count() == 0
    token = csrf_token(csrf_client, f"{ADMIN}default/-/{action}/")
    response = csrf_client.post(f"{ADMIN}default/-/{action}/",
                                {"csrfmiddlewaretoken": token, **CONFIRM})
    assert response.status_code == 302
    assert LogEntry.objects.count() == 1


def test_action_forms_carry_the_csrf_token(admin_client, queue):
    job = failed_job(queue)
    doc = parse(admin_client.get(job_url(job)))
    for form in doc.find_all("form", method="post"):
        assert form.find("input", name="csrfmiddlewaretoken") is not None
    bulk = parse(admin_client.get(f"{ADMIN}default/failed/")).one("form", id="jobqueue-bulk")
    assert bulk.find("input", name="csrfmiddlewaretoken") is not None


def test_a_queue_action_posted_without_confirmation_only_asks(admin_client, queue):
    job = failed_job(queue)
    response = admin_client.post(f"{ADMIN}default/-/delete-failed/")
    assert response.status_code == 200
    assert parse(response).find("input", id="jobqueue-confirm") is not None
    assert job.get_status() == "failed" and LogEntry.objects.count() == 0
