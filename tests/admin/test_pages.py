"""What each page shows: the admin index entries, the dashboard, a queue's tabs, a job, the
workers; the same pages mounted with include("django_jobqueue.urls")."""

from __future__ import annotations

import re
import time

import pytest
from django.test.utils import override_settings

from django_jobqueue import Retry, Worker, get_queue
from django_jobqueue.engine import keys
from django_jobqueue.integration import clients
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import (
    ADMIN,
    MOUNT,
    STATES,
    WORKERS,
    canceled_job,
    dashboard_counts,
    deferred_job,
    failed_job,
    finished_job,
    listed_ids,
    live_worker,
    parse,
    running_job,
    scheduled_job,
    work,
)
from tests.engine import jobs_retries as retry_jobs
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(90)


# --------------------------------------------------------------------------- admin index


def test_admin_index_lists_queues_and_workers_without_url_config(admin_client):
    page = admin_client.get("/admin/")
    assert page.status_code == 200
    doc = parse(page)
    links = {a.clean_text: a.get("href") for a in doc.find_all("a")}
    assert links["Queues"] == ADMIN
    assert links["Workers"] == WORKERS
    app = admin_client.get("/admin/django_jobqueue/")
    assert app.status_code == 200
    assert "Queues" in app.content.decode() and "Workers" in app.content.decode()


# --------------------------------------------------------------------------- mounted


def test_include_mounts_the_same_pages(admin_client, queue):
    job = failed_job(queue)
    dashboard = admin_client.get(MOUNT)
    assert dashboard.status_code == 200
    assert dashboard_counts(dashboard)["default"]["failed"] == 1
    # links stay under the mount point
    cell = parse(dashboard).one("tr", data_queue="default").one("td", data_state="failed")
    assert cell.one("a").get("href") == f"{MOUNT}default/failed/"

    tab = admin_client.get(f"{MOUNT}default/failed/")
    assert tab.status_code == 200
    assert listed_ids(tab) == [job.id]
    link = parse(tab).one("a", class_="job-link")
    assert link.get("href") == f"{MOUNT}default/job/{job.id}/"
    assert admin_client.get(f"{MOUNT}default/").status_code == 200

    page = admin_client.get(f"{MOUNT}default/job/{job.id}/")
    assert page.status_code == 200
    assert parse(page).one("span", id="jobqueue-job-status").clean_text == "failed"
    forms = parse(page).find_all("form", action=f"{MOUNT}default/job/{job.id}/requeue/")
    assert len(forms) == 1

    with live_worker(queue) as worker:
        workers = admin_client.get(f"{MOUNT}-/workers/")
        assert workers.status_code == 200
        assert parse(workers).find("tr", data_worker=worker.name) is not None

    stats = admin_client.get(f"{MOUNT}-/stats.json")
    assert stats.status_code == 200
    assert stats.json()["queues"]["default"]["failed"] == 1
    metrics = admin_client.get(f"{MOUNT}-/metrics")
    assert metrics.status_code == 200
    assert 'jobqueue_jobs{queue="default",state="failed"} 1' in metrics.content.decode()

    confirm = admin_client.get(f"{MOUNT}default/-/requeue-failed/")
    assert confirm.status_code == 200
    assert parse(confirm).find(id="jobqueue-confirm") is not None


# --------------------------------------------------------------------------- dashboard


def _one_of_each(queue):
    """A job of every state in ``queue`` (started needs a running worker: see callers)."""
    made = {"failed": failed_job(queue), "finished": finished_job(queue),
            "canceled": canceled_job(queue), "scheduled": scheduled_job(queue),
            "deferred": deferred_job(queue)}  # its parent is queued
    made["queued"] = queue.enqueue(jobs.add, 5, 5)
    return made


def test_dashboard_counts_every_state_of_every_queue(admin_client, queue):
    _one_of_each(queue)  # queued: 2 (the deferred job's parent and one more)
    high = get_queue("high")
    failed_job(high)
    for _ in range(3):
        high.enqueue(jobs.add, 1, 1)
    counts = dashboard_counts(admin_client.get(ADMIN))
    assert set(counts) == {"default", "high", "low"}
    assert counts["default"] == {"queued": 2, "started": 0, "scheduled": 1, "deferred": 1,
                                 "finished": 1, "failed": 1, "canceled": 1, "workers": 0}
    assert counts["high"]["queued"] == 3 and counts["high"]["failed"] == 1
    assert counts["low"] == dict.fromkeys((*STATES, "workers"), 0)
    # each count links to its tab
    row = parse(admin_client.get(ADMIN)).one("tr", data_queue="default")
    for state in STATES:
        link = row.one("td", data_state=state).one("a")
        assert link.get("href") == f"{ADMIN}default/{state}/"


def test_dashboard_counts_started_jobs_and_workers_serving_each_queue(admin_client, queue):
    with running_job(queue) as (job, worker):
        counts = dashboard_counts(admin_client.get(ADMIN))
        assert counts["default"]["started"] == 1
        assert counts["default"]["workers"] == 1
        assert counts["high"]["workers"] == 0
        with live_worker(queue, get_queue("high")):
            counts = dashboard_counts(admin_client.get(ADMIN))
            assert counts["default"]["workers"] == 2
            assert counts["high"]["workers"] == 1
            assert counts["low"]["workers"] == 0


def test_dashboard_has_an_auto_refresh_toggle(admin_client):
    doc = parse(admin_client.get(ADMIN))
    assert doc.one("input", id="jobqueue-autorefresh").get("type") == "checkbox"


def _dashboard_round_trips(client, count_round_trips) -> int:
    redis_client = clients.get_client("default")
    assert client.get(ADMIN).status_code == 200  # warm up: loads the Lua script
    with count_round_trips(redis_client) as counter:
        response = client.get(ADMIN)
    assert response.status_code == 200
    return counter.value


def test_dashboard_costs_two_round_trips_however_many_queues(admin_client, redis_url,
                                                             count_round_trips):
    """The counts, then the activity charts' history and depth (admin/activity.py)."""
    for name in ("default", "high", "low"):
        get_queue(name).enqueue(jobs.add, 1, 1)
    two = _dashboard_round_trips(admin_client, count_round_trips)
    assert two == 2

    many = {f"q{i}": {} for i in range(40)}
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url, QUEUES=many)):
        clients.reset()
        for name in list(many)[:5]:
            get_queue(name).enqueue(jobs.add, 1, 1)
        forty = _dashboard_round_trips(admin_client, count_round_trips)
        counts = dashboard_counts(admin_client.get(ADMIN))
    clients.reset()
    assert forty == two == 2
    assert len(counts) == 40 and counts["q0"]["queued"] == 1 and counts["q39"]["queued"] == 0


# --------------------------------------------------------------------------- queue page


def test_queue_page_has_one_tab_per_state_with_counts(admin_client, queue):
    _one_of_each(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/"))
    tabs = {a.get("data-tab"): a for a in doc.find_all("a", data_tab=True)}
    assert list(tabs) == list(STATES)
    assert "current" in tabs["queued"].get("class", "")
    assert tabs["failed"].get("href") == f"{ADMIN}default/failed/"
    assert tabs["queued"].clean_text.endswith("(2)")
    assert tabs["deferred"].clean_text.endswith("(1)")
    for state in STATES:
        response = admin_client.get(f"{ADMIN}default/{state}/")
        assert response.status_code == 200, state
        current = parse(response).one("a", class_="current")
        assert current.get("data-tab") == state
        if state != "started" and state != "queued":
            assert len(listed_ids(response)) == 1, state


def test_queue_page_lists_the_jobs_of_the_tab_only(admin_client, queue):
    made = _one_of_each(queue)
    assert listed_ids(admin_client.get(f"{ADMIN}default/failed/")) == [made["failed"].id]
    assert listed_ids(admin_client.get(f"{ADMIN}default/scheduled/")) == [made["scheduled"].id]
    assert listed_ids(admin_client.get(f"{ADMIN}default/deferred/")) == [made["deferred"].id]
    assert listed_ids(admin_client.get(f"{ADMIN}default/canceled/")) == [made["canceled"].id]
    assert listed_ids(admin_client.get(f"{ADMIN}default/finished/")) == [made["finished"].id]
    queued = listed_ids(admin_client.get(f"{ADMIN}default/"))
    assert made["queued"].id in queued and len(queued) == 2


def test_queue_page_started_tab_shows_the_running_job(admin_client, queue):
    with running_job(queue) as (job, _worker):
        response = admin_client.get(f"{ADMIN}default/started/")
        assert listed_ids(response) == [job.id]
        row = parse(response).one("tr", data_job_id=job.id)
        assert "started" in row.clean_text


def _enqueue_many(queue, n, func=jobs.add):
    return [queue.enqueue(func, i, i) for i in range(n)]


def test_pagination_page_size_and_order(admin_client, queue):
    made = [j.id for j in _enqueue_many(queue, 30)]
    url = f"{ADMIN}default/"
    # default page size 25, the queue's order is oldest (next to run) first
    first = listed_ids(admin_client.get(url))
    assert first == made[:25]
    assert listed_ids(admin_client.get(url, {"page": 2})) == made[25:]
    assert listed_ids(admin_client.get(url, {"per_page": 10, "page": 2})) == made[10:20]
    assert listed_ids(admin_client.get(url, {"per_page": 10, "page": 3})) == made[20:30]
    newest = listed_ids(admin_client.get(url, {"per_page": 10, "order": "newest"}))
    assert newest == made[::-1][:10]
    oldest = listed_ids(admin_client.get(url, {"per_page": 10, "order": "oldest"}))
    assert oldest == made[:10]
    doc = parse(admin_client.get(url, {"per_page": 10}))
    select = doc.one("select", id="jobqueue-per-page")
    options = [o.get("value") for o in select.find_all("option")]
    assert options == ["10", "25", "50", "100", "250", "500"]
    assert select.one("option", selected=True).get("value") == "10"
    paginator = doc.one("p", class_="paginator")
    assert "30 jobs" in paginator.clean_text and "page 1 of 3" in paginator.clean_text
    page_links = [a.get("href") for a in paginator.find_all("a")]
    assert any("page=3" in href for href in page_links)


def test_every_page_size_is_honoured(admin_client, queue):
    made = [j.id for j in _enqueue_many(queue, 260)]
    for size in (10, 25, 50, 100, 250, 500):
        ids = listed_ids(admin_client.get(f"{ADMIN}default/", {"per_page": size}))
        assert ids == made[:size], size


def test_registry_tabs_order_newest_first_by_default(admin_client, queue):
    first = finished_job(queue)
    second = finished_job(queue)
    url = f"{ADMIN}default/finished/"
    assert listed_ids(admin_client.get(url)) == [second.id, first.id]
    assert listed_ids(admin_client.get(url, {"order": "oldest"})) == [first.id, second.id]


def test_search_by_job_id_and_by_function_name(admin_client, queue):
    adds = _enqueue_many(queue, 5)
    reports = [queue.enqueue(jobs.report, 10) for _ in range(3)]
    url = f"{ADMIN}default/"
    by_id = admin_client.get(url, {"q": adds[3].id})
    assert listed_ids(by_id) == [adds[3].id]
    assert parse(by_id).find("p", id="jobqueue-search-note") is not None
    by_name = listed_ids(admin_client.get(url, {"q": "jobs.report"}))
    assert sorted(by_name) == sorted(j.id for j in reports)
    by_part = listed_ids(admin_client.get(url, {"q": adds[1].id[:12]}))
    assert adds[1].id in by_part
    assert listed_ids(admin_client.get(url, {"q": "no-function-has-this-name"})) == []


def test_rows_show_id_function_description_status_times_and_progress(admin_client, queue):
    with_progress = queue.enqueue(jobs.report, 5, meta={"progress": 40},
                                  description="reporting <b>things</b>")
    plain = queue.enqueue(jobs.add, 1, 2)
    response = admin_client.get(f"{ADMIN}default/")
    doc = parse(response)
    row = doc.one("tr", data_job_id=with_progress.id)
    text = row.clean_text
    assert with_progress.id in text
    assert "tests.admin.jobs.report" in text
    assert "reporting <b>things</b>" in text  # shown as text, escaped in the HTML
    assert "reporting <b>things</b>" not in response.content.decode()
    assert "queued" in text
    assert time.strftime("%Y") in text  # the enqueued time
    progress = row.one("progress")
    assert progress.get("value") == "40" and progress.get("max") == "100"
    assert row.one("input", name="_selected_job").get("value") == with_progress.id
    assert row.one("a", class_="job-link").get("href") == \
        f"{ADMIN}default/job/{with_progress.id}/"
    assert doc.one("tr", data_job_id=plain.id).find("progress") is None


def test_progress_reported_by_a_running_job_is_shown(admin_client, queue):
    job = queue.enqueue(jobs.report, 70)
    work(queue)
    row = parse(admin_client.get(f"{ADMIN}default/finished/")).one("tr", data_job_id=job.id)
    assert row.one("progress").get("value") == "70"


def _queue_page_round_trips(client, count_round_trips, url) -> int:
    redis_client = clients.get_client("default")
    assert client.get(url).status_code == 200  # warm up
    with count_round_trips(redis_client) as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.value


@pytest.mark.parametrize("state", ["queued", "failed"])
def test_queue_page_round_trips_do_not_grow_with_the_queue(admin_client, queue,
                                                           count_round_trips, state):
    func = jobs.add if state == "queued" else jobs.fail
    url = f"{ADMIN}default/{state}/"

    def fill(n):
        made = [queue.enqueue(func, 1, 1) if func is jobs.add else queue.enqueue(func)
                for _ in range(n)]
        if state == "failed":
            work(queue)
        return made

    fill(30)
    small = _queue_page_round_trips(admin_client, count_round_trips, url)
    small_last = _queue_page_round_trips(admin_client, count_round_trips, url + "?page=2")
    fill(270)
    large = _queue_page_round_trips(admin_client, count_round_trips, url)
    large_last = _queue_page_round_trips(admin_client, count_round_trips, url + "?page=12")
    large_100 = _queue_page_round_trips(admin_client, count_round_trips, url + "?per_page=100")
    assert small == large == small_last == large_last == large_100, \
        (small, large, small_last, large_last, large_100)
    assert small <= 5  # 1 of them the activity charts' (admin/activity.py)


def test_search_round_trips_do_not_grow_with_the_queue(admin_client, queue, count_round_trips):
    url = f"{ADMIN}default/"
    first = queue.enqueue(jobs.report, 1)
    for _ in range(30):
        queue.enqueue(jobs.add, 1, 1)
    costs = []
    for query in ("?q=jobs.add", "?q=jobs.report", f"?q={first.id}", "?q=nothing"):
        costs.append(_queue_page_round_trips(admin_client, count_round_trips, url + query))
    for _ in range(270):
        queue.enqueue(jobs.add, 1, 1)
    for query in ("?q=jobs.add", "?q=jobs.report", f"?q={first.id}", "?q=nothing"):
        costs.append(_queue_page_round_trips(admin_client, count_round_trips, url + query))
    assert costs[:4] == costs[4:], costs
    assert max(costs) <= 6, costs  # 1 of them the activity charts' (admin/activity.py)


def test_queue_page_has_the_bulk_form_and_auto_refresh(admin_client, queue):
    failed_job(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/failed/"))
    form = doc.one("form", id="jobqueue-bulk")
    assert form.get("method") == "post"
    actions = [o.get("value") for o in form.one("select", name="action").find_all("option")]
    assert {"requeue", "cancel", "stop", "delete"} <= set(actions)
    assert form.one("button", name="index").get("type") == "submit"
    assert doc.one("input", id="jobqueue-autorefresh") is not None
    links = {a.get("data-queue-action"): a.get("href")
             for a in doc.find_all("a", data_queue_action=True)}
    assert links == {"requeue-failed": f"{ADMIN}default/-/requeue-failed/",
                     "delete-failed": f"{ADMIN}default/-/delete-failed/"}
    queued = parse(admin_client.get(f"{ADMIN}default/"))
    links = {a.get("data-queue-action") for a in queued.find_all("a", data_queue_action=True)}
    assert links == set()  # nothing queued: nothing to empty
    queue.enqueue(jobs.add, 1, 2)
    queued = parse(admin_client.get(f"{ADMIN}default/"))
    links = {a.get("data-queue-action") for a in queued.find_all("a", data_queue_action=True)}
    assert links == {"empty"}
    # actions that cannot be undone ask first (pages.js reads data-confirm)
    questions = {o.get("value"): o.get("data-confirm")
                 for o in form.one("select", name="action").find_all("option")}
    assert questions["delete"] and questions["stop"] and not questions["requeue"]


# --------------------------------------------------------------------------- job page


def _field(doc, label: str):
    """The <td> of the job table row labelled ``label``."""
    for row in doc.find_all("tr"):
        th = row.find("th")
        if th is not None and th.clean_text == label:
            return row.one("td")
    raise AssertionError(f"no row {label!r}")


def test_job_page_of_a_finished_job(admin_client, queue):
    job = queue.enqueue(jobs.add, 2, 3, result_ttl=600, failure_ttl=700, ttl=800,
                        job_timeout=90, meta={"owner": "alice"})
    work(queue)
    response = admin_client.get(f"{ADMIN}default/job/{job.id}/")
    assert response.status_code == 200
    doc = parse(response)
    assert doc.one("span", id="jobqueue-job-status").clean_text == "finished"
    assert _field(doc, "Function").clean_text == "tests.admin.jobs.add"
    assert _field(doc, "Queue").clean_text == "default"
    assert _field(doc, "Args").clean_text == "(2, 3)"
    assert _field(doc, "Kwargs").clean_text == "{}"
    assert "'owner': 'alice'" in _field(doc, "Meta").clean_text
    assert _field(doc, "Timeout (s)").clean_text == "90"
    assert _field(doc, "Result TTL (s)").clean_text == "600"
    assert _field(doc, "Failure TTL (s)").clean_text == "700"
    assert _field(doc, "TTL (s)").clean_text == "800"
    expires = re.fullmatch(r"(\d+ min) \((\d+) s\)", _field(doc, "Expires in").clean_text)
    assert expires and 0 < int(expires.group(2)) <= 600
    assert _field(doc, "Result").clean_text == "5"  # the return value, at the top
    worker_name = _field(doc, "Worker").clean_text
    assert worker_name and worker_name != "—"
    year = time.strftime("%Y")
    for label in ("Created", "Enqueued", "Started", "Ended"):
        assert year in _field(doc, label).clean_text, label
    results = doc.one("table", id="jobqueue-results")
    rows = results.one("tbody").find_all("tr")
    assert len(rows) == 1
    assert "finished" in rows[0].clean_text and "5" in rows[0].clean_text
    assert worker_name in rows[0].clean_text


def test_job_page_of_a_failed_job_shows_the_traceback(admin_client, queue):
    job = failed_job(queue, message="it broke here")
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert doc.one("span", id="jobqueue-job-status").clean_text == "failed"
    traceback = _field(doc, "Traceback").clean_text
    assert "ValueError: it broke here" in traceback
    rows = doc.one("table", id="jobqueue-results").one("tbody").find_all("tr")
    assert len(rows) == 1 and "failed" in rows[0].clean_text
    assert "it broke here" in rows[0].clean_text


def test_job_page_shows_every_execution_and_retries_left(admin_client, queue):
    job = queue.enqueue(jobs.fail, "again", retry=Retry(max=2))
    Worker([queue], connection=queue.connection).work(burst=True, max_jobs=1)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert _field(doc, "Retries left").clean_text == "1"
    work(queue)
    wait_until(lambda: job.get_status() == "failed", timeout=10)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    rows = doc.one("table", id="jobqueue-results").one("tbody").find_all("tr")
    assert len(rows) == 3
    assert all("failed" in row.clean_text for row in rows)
    assert _field(doc, "Retries left").clean_text == "0"
    assert _field(doc, "Attempts").clean_text == "3"


def test_job_page_shows_a_unique_jobs_key(admin_client, queue):
    unique = queue.enqueue(jobs.add, 1, 2, unique_key="report-1", unique_for=60)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{unique.id}/"))
    assert _field(doc, "Unique key").clean_text == "report-1"
    assert _field(doc, "Unique for (s)").clean_text == "60"
    plain = queue.enqueue(jobs.add, 1, 2)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{plain.id}/"))
    with pytest.raises(AssertionError, match="no row"):
        _field(doc, "Unique key")


def test_job_page_shows_each_attempt_its_error_and_when_the_next_is_due(admin_client, queue):
    policy = Retry(max=3, interval=600, backoff=2, on=(ConnectionError,))
    job = queue.enqueue(retry_jobs.raise_named, "builtins.ConnectionError", "link down",
                        retry=policy)
    Worker([queue], connection=queue.connection).work(burst=True, max_jobs=1)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert doc.one("span", id="jobqueue-job-status").clean_text == "scheduled"
    assert time.strftime("%Y") in _field(doc, "Next attempt due").clean_text
    with pytest.raises(AssertionError, match="no row"):
        _field(doc, "Scheduled for")
    assert [_field(doc, label).clean_text for label in (
        "Retries left", "Retry max", "Retry intervals (s)", "Retry backoff",
        "Retry max interval (s)", "Retry jitter", "Retry on")] == [
        "2", "3", "600", "2", "3600", "True", "builtins.ConnectionError"]
    [row] = doc.one("table", id="jobqueue-results").one("tbody").find_all("tr")
    cells = row.find_all("td")
    assert cells[0].clean_text == "1" and cells[1].clean_text == "failed"
    assert "ConnectionError: link down" in row.clean_text


def test_job_page_shows_a_retry_the_job_asked_for(admin_client, queue):
    job = queue.enqueue(retry_jobs.return_retry_later_once, retry=Retry(max=1))
    work(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    rows = doc.one("table", id="jobqueue-results").one("tbody").find_all("tr")
    assert [[td.clean_text for td in row.find_all("td")[:2]] for row in rows] == [
        ["2", "finished"], ["1", "retried"]]
    assert "RetryLater(delay=None)" in rows[1].clean_text
    with pytest.raises(AssertionError, match="no row"):
        _field(doc, "Next attempt due")


def test_job_page_escapes_arguments(admin_client, queue):
    job = queue.enqueue(jobs.echo, "<b>bold</b>", note="<script>alert(1)</script>")
    response = admin_client.get(f"{ADMIN}default/job/{job.id}/")
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    doc = parse(response)
    assert "<script>alert(1)</script>" in _field(doc, "Kwargs").clean_text
    assert "<b>bold</b>" in _field(doc, "Args").clean_text


def test_long_values_are_truncated_with_a_way_to_see_all(admin_client, queue):
    long_text = "x" * 5000 + "END"
    job = queue.enqueue(jobs.echo, long_text)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    cell = _field(doc, "Args")
    details = cell.one("details")
    summary = details.one("summary")
    assert "END" not in summary.text
    assert len(summary.text) < 1000
    assert "END" in details.one("pre").text  # everything, inside the <details>
    assert long_text in details.one("pre").text


def test_job_page_shows_dependencies_and_links_them(admin_client, queue):
    parent = queue.enqueue(jobs.add, 1, 1)
    child = queue.enqueue(jobs.add, 2, 2, depends_on=parent)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{child.id}/"))
    assert doc.one("span", id="jobqueue-job-status").clean_text == "deferred"
    assert parent.id in _field(doc, "Dependency").clean_text
    links = [a.get("href") for a in doc.one("table", id="jobqueue-job").find_all("a")]
    assert f"{ADMIN}default/job/{parent.id}/" in links


def test_job_page_of_a_queued_job_says_no_execution_yet(admin_client, queue):
    job = queue.enqueue(jobs.add, 1, 1)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert doc.one("span", id="jobqueue-job-status").clean_text == "queued"
    assert "No execution yet" in doc.one("table", id="jobqueue-results").clean_text
    assert _field(doc, "Worker").clean_text == "—"


def test_job_page_of_a_running_job_shows_its_worker(admin_client, queue):
    with running_job(queue) as (job, worker):
        doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
        assert doc.one("span", id="jobqueue-job-status").clean_text == "started"
        assert _field(doc, "Worker").clean_text == worker.name
        buttons = {b.get("data-action") for b in doc.find_all("button", data_action=True)}
        assert buttons == {"stop", "delete"}


@pytest.mark.parametrize(("make", "expected"), [
    (failed_job, {"requeue", "delete"}),
    (finished_job, {"requeue", "delete"}),
    (canceled_job, {"requeue", "delete"}),
    (scheduled_job, {"cancel", "delete"}),
    (deferred_job, {"cancel", "delete"}),
    (lambda q: q.enqueue(jobs.add, 1, 1), {"cancel", "delete"}),
])
def test_job_page_offers_the_actions_its_status_allows(admin_client, queue, make, expected):
    job = make(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    forms = doc.find_all("form", method="post")
    offered = {}
    for form in forms:
        button = form.find("button", data_action=True)
        if button is not None:
            offered[button.get("data-action")] = form.get("action")
    assert set(offered) == expected
    for action, url in offered.items():
        assert url == f"{ADMIN}default/job/{job.id}/{action}/"


# --------------------------------------------------------------------------- workers


def test_workers_page_shows_each_live_worker(admin_client, queue):
    import os
    import socket

    queue.enqueue(jobs.add, 1, 1)
    queue.enqueue(jobs.fail)
    with live_worker(queue, get_queue("high")) as worker:
        wait_until(lambda: queue.count == 0 and len(queue.failed_job_registry) == 1,
                   timeout=15)
        wait_until(lambda: worker.successful_job_count == 1
                   and worker.failed_job_count == 1, timeout=15)

        def shown():
            doc = parse(admin_client.get(WORKERS))
            row = doc.one("table", id="jobqueue-workers").one("tr", data_worker=worker.name)
            cells = [td.clean_text for td in row.find_all("td")]
            return cells if cells[6:8] == ["1", "1"] else None

        cells = wait_until(shown, timeout=10, message="counts never reached the record")
        name, host, pid, state, current, queues, ok, failed, started, heartbeat = cells
        assert name == worker.name
        assert host == socket.gethostname() or host == worker.hostname
        assert pid == str(os.getpid())
        assert state in ("idle", "busy")
        assert current == "—"
        assert queues == "default, high"
        assert time.strftime("%Y") in heartbeat and time.strftime("%Y") in started
        # the queues link to their pages
        doc = parse(admin_client.get(WORKERS))
        row = doc.one("tr", data_worker=worker.name)
        assert f"{ADMIN}default/" in [a.get("href") for a in row.find_all("a")]
    # a worker that left is no longer shown
    doc = parse(admin_client.get(WORKERS))
    assert doc.find("tr", data_worker=worker.name) is None


def test_workers_page_shows_the_current_job(admin_client, queue):
    with running_job(queue) as (job, worker):
        row = parse(admin_client.get(WORKERS)).one("tr", data_worker=worker.name)
        cells = [td.clean_text for td in row.find_all("td")]
        assert cells[3] == "busy"
        assert cells[4] == job.id


def test_a_dead_worker_drops_off(admin_client, queue):
    with live_worker(queue) as worker:
        alive = parse(admin_client.get(WORKERS))
        assert alive.find("tr", data_worker=worker.name) is not None
        # the worker stops heartbeating (killed): its record expires
        worker_key = keys.worker(worker.name)
        worker.request_stop()
        wait_until(lambda: not queue.connection.exists(worker_key) or
                   parse(admin_client.get(WORKERS)).find("tr", data_worker=worker.name) is None,
                   timeout=15)
    assert parse(admin_client.get(WORKERS)).find("tr", data_worker=worker.name) is None


def test_a_worker_whose_record_expired_is_not_shown(admin_client, queue, connection):
    from django_jobqueue.engine import scripts

    worker = Worker([queue], connection=queue.connection)
    # the record a worker's heartbeat writes, then the worker is killed (no more heartbeats)
    scripts.get("heartbeat")(queue.connection, worker.name, 60, 60, "", "", "", *worker.describe())
    try:
        assert parse(admin_client.get(WORKERS)).find("tr", data_worker=worker.name) is not None
        assert dashboard_counts(admin_client.get(ADMIN))["default"]["workers"] == 1
        # no heartbeat any more (the process was killed): the record expires
        connection.pexpire(keys.worker(worker.name), 1)
        wait_until(lambda: not connection.exists(keys.worker(worker.name)), timeout=5)
        assert parse(admin_client.get(WORKERS)).find("tr", data_worker=worker.name) is None
        assert dashboard_counts(admin_client.get(ADMIN))["default"]["workers"] == 0
        assert admin_client.get(f"{ADMIN}-/stats.json").json()["workers"] == []
    finally:
        connection.zrem(keys.workers(), worker.name)


def test_failed_tab_shows_the_error_and_the_job_page_its_own_frame_first(admin_client, queue):
    job = queue.enqueue(jobs.fail, "context line\n" * 40 + "the real reason")
    work(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/failed/"))
    row = doc.one("tr", data_error_of=job.id)  # a full-width row under the job's
    assert "the real reason" in row.one("div", class_="error-line").clean_text
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    preview = _field(doc, "Traceback").one("summary").clean_text
    # the job's own frame (not the engine's), then the error's end, cut at line boundaries
    assert preview.startswith('File "') and "in fail" in preview
    assert "the real reason" in preview and "execution.py" not in preview


def test_scheduled_jobs_show_when_they_are_due(admin_client, queue):
    from datetime import timedelta

    job = queue.enqueue_in(timedelta(hours=1), jobs.add, 1, 1)
    doc = parse(admin_client.get(f"{ADMIN}default/scheduled/"))
    heads = [th.clean_text for th in doc.one("table", id="jobqueue-jobs").find_all("th")]
    assert "Due" in heads and "Enqueued" not in heads
    cells = [td.clean_text for td in doc.one("tr", data_job_id=job.id).find_all("td")]
    assert any(c and c[0].isdigit() and ":" in c for c in cells)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert _field(doc, "Scheduled for").clean_text[:4].isdigit()


def test_job_page_round_trips_are_few_and_constant(admin_client, queue, count_round_trips):
    small = queue.enqueue(jobs.echo, 1)
    big = queue.enqueue(jobs.echo, "x" * 200_000, meta={f"k{i}": i for i in range(1000)},
                        depends_on=[queue.enqueue(jobs.add, i, i) for i in range(20)])
    client = clients.get_client("default")
    costs = []
    for job in (small, big):
        assert admin_client.get(f"{ADMIN}default/job/{job.id}/").status_code == 200
        with count_round_trips(client) as counter:
            assert admin_client.get(f"{ADMIN}default/job/{job.id}/").status_code == 200
        costs.append(counter.value)
    assert costs[0] == costs[1] <= 2, costs


def test_the_workers_page_links_the_current_job(admin_client, queue):
    with running_job(queue, limit=3) as (job, _):
        doc = parse(admin_client.get("/admin/django_jobqueue/worker/"))
        link = doc.one("table", id="jobqueue-workers").find("a", href=f"{ADMIN}-/find/{job.id}/")
        assert link is not None
        response = admin_client.get(link.get("href"))
        assert response.status_code == 302
        assert response["Location"] == f"{ADMIN}default/job/{job.id}/"


def test_the_job_page_shows_its_callbacks_and_their_timeouts(admin_client, queue):
    from django_jobqueue import Callback
    from tests.admin.helpers import field_cell

    job = queue.enqueue(jobs.add, 1, 2, on_success="tests.admin.jobs.add",
                        on_stopped=Callback("tests.admin.jobs.add", timeout=9))
    page = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert field_cell(page, "Callbacks").clean_text == (
        "on_success=tests.admin.jobs.add, on_failure=—, "
        "on_stopped=tests.admin.jobs.add (timeout 9 s)")
