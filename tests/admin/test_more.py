"""More of the pages: the admin's history links, several Redis connections, permissions
through groups, registry pages with expired entries, the job page's round trips."""

from __future__ import annotations

import time

import pytest
import redis
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.test.utils import override_settings

from django_jobqueue import Queue, clients, get_queue
from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import (
    ADMIN,
    CONFIRM,
    client_for,
    dashboard_counts,
    failed_job,
    finished_job,
    listed_ids,
    parse,
    work,
)

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- history links


def test_history_links_of_a_job_lead_to_its_page(admin_client, queue):
    job = failed_job(queue)
    admin_client.post(f"{ADMIN}default/job/{job.id}/requeue/")
    entry = LogEntry.objects.get()
    url = "/admin/" + entry.get_admin_url().lstrip("/").removeprefix("admin/")
    response = admin_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}default/job/{job.id}/"
    # the admin index's "Recent actions" shows it
    index = parse(admin_client.get("/admin/"))
    assert url in [a.get("href") for a in index.find_all("a")]


def test_history_links_of_a_queue_action_lead_to_the_queue(admin_client, queue):
    failed_job(queue)
    admin_client.post(f"{ADMIN}default/-/delete-failed/", CONFIRM)
    entry = LogEntry.objects.get()
    response = admin_client.get(entry.get_admin_url())
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}default/"


def test_history_link_of_a_deleted_job_is_the_admin_404(admin_client, queue):
    job = failed_job(queue)
    admin_client.post(f"{ADMIN}default/job/{job.id}/delete/")
    response = admin_client.get(LogEntry.objects.get().get_admin_url())
    assert response.status_code == 404
    assert parse(response).find("p", id="jobqueue-not-found") is not None


def test_history_link_of_a_job_of_another_queue(admin_client):
    job = failed_job(get_queue("low"))
    response = admin_client.get(f"{ADMIN}{job.id}/change/")
    assert response["Location"] == f"{ADMIN}low/job/{job.id}/"


@pytest.mark.parametrize("object_id", ["nonsense", "0" * 32, "<x>", "-"])
def test_history_link_to_nothing_is_404(admin_client, object_id):
    assert admin_client.get(f"{ADMIN}{object_id}/change/").status_code == 404


def test_history_links_need_the_view_permission(users, queue):
    job = failed_job(queue)
    assert client_for(users["staff"]).get(f"{ADMIN}{job.id}/change/").status_code == 403
    assert client_for(users["viewer"]).get(f"{ADMIN}{job.id}/change/").status_code == 302
    response = client_for(None).get(f"{ADMIN}{job.id}/change/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --------------------------------------------------------------------------- connections


def test_one_round_trip_per_connection(admin_client, redis_url, count_round_trips):
    settings = jobqueue_settings(redis_url, QUEUES={
        "a": {}, "b": {}, "c": {"CONNECTION": "other"}, "d": {"CONNECTION": "other"},
        "e": {"CONNECTION": "other"},
    })
    settings["CONNECTIONS"]["other"] = {"URL": redis_url.rsplit("/", 1)[0] + "/1"}
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        get_queue("a").enqueue(jobs.add, 1, 1)
        for _ in range(2):
            get_queue("d").enqueue(jobs.add, 1, 1)
        failed_job(get_queue("e"))
        default, other = clients.get_connection("default"), clients.get_connection("other")
        assert admin_client.get(ADMIN).status_code == 200  # warm up
        with count_round_trips(default) as on_default, count_round_trips(other) as on_other:
            response = admin_client.get(ADMIN)
        counts = dashboard_counts(response)
        # a job of a queue on the other connection is found there, not on default
        e_job = get_queue("e").failed_job_registry.get_job_ids()[0]
        page = admin_client.get(f"{ADMIN}e/job/{e_job}/")
        stats = admin_client.get(f"{ADMIN}-/stats.json").json()
        history = admin_client.get(f"{ADMIN}{e_job}/change/")
    clients.reset()
    assert on_default.value == 1 and on_other.value == 1
    assert counts["a"]["queued"] == 1 and counts["d"]["queued"] == 2
    assert counts["e"]["failed"] == 1 and counts["c"]["queued"] == 0
    assert page.status_code == 200
    assert stats["queues"]["d"]["queued"] == 2
    assert history["Location"] == f"{ADMIN}e/job/{e_job}/"


def test_one_connection_down_leaves_the_other_readable(admin_client, redis_url):
    from tests.harness import free_port

    settings = jobqueue_settings(redis_url, QUEUES={"a": {}, "gone": {"CONNECTION": "down"}})
    settings["CONNECTIONS"]["down"] = {"URL": f"redis://127.0.0.1:{free_port()}/0"}
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        get_queue("a").enqueue(jobs.add, 1, 1)
        response = admin_client.get(ADMIN)
        stats = admin_client.get(f"{ADMIN}-/stats.json").json()
        metrics = admin_client.get(f"{ADMIN}-/metrics").content.decode()
        page = admin_client.get(f"{ADMIN}gone/")
    clients.reset()
    assert response.status_code == 200
    doc = parse(response)
    assert doc.one("tr", data_queue="a").one("td", data_state="queued").clean_text == "1"
    assert "unreachable" in doc.one("tr", data_queue="gone").clean_text
    assert "could not be read" in doc.one("div", id="content-main").clean_text
    assert stats["queues"]["a"]["queued"] == 1 and stats["queues"]["gone"]["reachable"] is False
    # unknown, not zero: a reader of the counts alone must not see an empty queue
    assert stats["queues"]["gone"]["queued"] is None and stats["queues"]["gone"]["workers"] is None
    assert 'queue="gone"' not in metrics.replace('jobqueue_up{connection="down"}', "")
    assert 'jobqueue_up{connection="down"} 0' in metrics
    assert 'jobqueue_up{connection="default"} 1' in metrics
    assert page.status_code == 503


# --------------------------------------------------------------------------- groups


def test_permissions_through_a_group(users, queue):
    job = failed_job(queue)
    perms = Permission.objects.filter(content_type__app_label="django_jobqueue")
    viewers = Group.objects.create(name="queue viewers")
    viewers.permissions.add(perms.get(codename="view_queue"))
    operators = Group.objects.create(name="queue operators")
    operators.permissions.add(*perms.filter(codename__in=["view_queue", "change_queue"]))
    try:
        alice = User.objects.create_user("alice", is_staff=True)
        alice.groups.add(viewers)
        bob = User.objects.create_user("bob", is_staff=True)
        bob.groups.add(operators)
        assert client_for(alice).get(f"{ADMIN}default/job/{job.id}/").status_code == 200
        assert client_for(alice).post(f"{ADMIN}default/job/{job.id}/requeue/").status_code \
            == 403
        assert client_for(bob).post(f"{ADMIN}default/job/{job.id}/requeue/").status_code == 302
        assert queue.connection.hget(keys.job(job.id), "status") == b"queued"
    finally:
        Group.objects.all().delete()


# --------------------------------------------------------------------------- registries


def test_registry_pages_by_rank(admin_client, queue):
    made = [j.id for j in queue.enqueue_many([Queue.prepare_data(jobs.fail, ("x",))
                                             for _ in range(35)])]
    work(queue)
    url = f"{ADMIN}default/failed/"
    # failed jobs are listed by when they expire, i.e. when they failed: newest first
    newest = made[::-1]
    assert listed_ids(admin_client.get(url, {"per_page": 10})) == newest[:10]
    assert listed_ids(admin_client.get(url, {"per_page": 10, "page": 4})) == newest[30:]
    assert listed_ids(admin_client.get(url, {"per_page": 10, "page": 4, "order": "oldest"})) \
        == made[30:]
    assert listed_ids(admin_client.get(url, {"per_page": 10, "page": 99})) == newest[30:]


def test_expired_entries_are_neither_counted_nor_listed(admin_client, queue):
    live = [finished_job(queue) for _ in range(3)]
    expired = [finished_job(queue) for _ in range(2)]
    registry = keys.registry("finished", "default")
    for job in expired:  # their time is up; nothing has cleaned them up yet
        queue.connection.zadd(registry, {job.id: time.time() - 10})
    assert dashboard_counts(admin_client.get(ADMIN))["default"]["finished"] == 3
    for order in ("newest", "oldest"):
        for per_page, page in ((10, 1), (25, 1)):
            ids = listed_ids(admin_client.get(f"{ADMIN}default/finished/",
                                              {"order": order, "per_page": per_page,
                                               "page": page}))
            assert sorted(ids) == sorted(j.id for j in live), order
    tab = parse(admin_client.get(f"{ADMIN}default/finished/"))
    assert tab.one("a", data_tab="finished").clean_text.endswith("(3)")
    stats = admin_client.get(f"{ADMIN}-/stats.json").json()
    assert stats["queues"]["default"]["finished"] == 3


def test_scheduled_and_deferred_tabs_paginate(admin_client, queue):
    from datetime import timedelta

    scheduled = [queue.enqueue_in(timedelta(minutes=i + 1), jobs.add, i, i).id
                 for i in range(12)]
    response = admin_client.get(f"{ADMIN}default/scheduled/",
                                {"per_page": 10, "page": 2, "order": "oldest"})
    assert listed_ids(response) == scheduled[10:]
    response = admin_client.get(f"{ADMIN}default/scheduled/", {"per_page": 10})
    assert listed_ids(response) == scheduled[::-1][:10]


# --------------------------------------------------------------------------- job page cost


def test_job_page_round_trips_are_few_and_constant(admin_client, queue, count_round_trips):
    small = queue.enqueue(jobs.echo, 1)
    big = queue.enqueue(jobs.echo, "x" * 200_000, meta={f"k{i}": i for i in range(1000)},
                        depends_on=[queue.enqueue(jobs.add, i, i) for i in range(20)])
    client = clients.get_connection("default")
    costs = []
    for job in (small, big):
        assert admin_client.get(f"{ADMIN}default/job/{job.id}/").status_code == 200
        with count_round_trips(client) as counter:
            assert admin_client.get(f"{ADMIN}default/job/{job.id}/").status_code == 200
        costs.append(counter.value)
    assert costs[0] == costs[1] <= 2, costs


# --------------------------------------------------------------------------- odd queue names


@pytest.mark.parametrize("name", ["jobs.v2:high-1", "-", "job", "change", "metrics", "_"])
def test_queues_with_odd_names(admin_client, redis_url, name):
    settings = jobqueue_settings(redis_url, QUEUES={"default": {}, name: {}})
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        q = get_queue(name)
        failed = failed_job(q)
        queued = q.enqueue(jobs.add, 1, 1)
        counts = dashboard_counts(admin_client.get(ADMIN))
        assert counts[name]["failed"] == 1 and counts[name]["queued"] == 1
        row = parse(admin_client.get(ADMIN)).one("tr", data_queue=name)
        tab_url = row.one("td", data_state="failed").one("a").get("href")
        tab = admin_client.get(tab_url)
        assert tab.status_code == 200
        assert listed_ids(tab) == [failed.id]
        assert listed_ids(admin_client.get(row.one("th").one("a").get("href"))) == [queued.id]
        job_url = parse(tab).one("a", class_="job-link").get("href")
        page = admin_client.get(job_url)
        assert page.status_code == 200
        assert parse(page).one("span", id="jobqueue-job-status").clean_text == "failed"
        requeue = parse(page).one("button", data_action="requeue").parent.get("action")
        assert admin_client.post(requeue).status_code == 302
        assert q.connection.hget(keys.job(failed.id), "status") == b"queued"
        empty = parse(admin_client.get(row.one("th").one("a").get("href"))).one(
            "a", data_queue_action="empty").get("href")
        assert admin_client.get(empty).status_code == 200
        assert admin_client.post(empty, CONFIRM).status_code == 302
        assert q.count == 0
        assert admin_client.get(f"{ADMIN}-/stats.json").json()["queues"][name]["queued"] == 0
        assert admin_client.get(f"{ADMIN}-/metrics").status_code == 200
        history = admin_client.get(f"{ADMIN}{name}/change/")
        assert history.status_code == 302
    clients.reset()


# --------------------------------------------------------------------------- later additions


def test_an_exact_id_search_says_which_tab_holds_the_job(admin_client, queue):
    job = finished_job(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/failed/", {"q": job.id}))
    note = doc.one("strong", id="jobqueue-search-elsewhere")
    assert "finished" in note.clean_text
    assert note.one("a").get("href") == f"{ADMIN}default/job/{job.id}/"


def test_a_queue_action_posted_without_confirmation_only_asks(admin_client, queue):
    job = failed_job(queue)
    response = admin_client.post(f"{ADMIN}default/-/delete-failed/")
    assert response.status_code == 200
    assert parse(response).find("input", id="jobqueue-confirm") is not None
    assert job.get_status() == "failed" and LogEntry.objects.count() == 0


def test_a_search_for_control_characters_is_harmless(admin_client, queue):
    response = admin_client.get(f"{ADMIN}default/", {"q": "a\x00b\x07"})
    assert response.status_code == 200
    assert b"\x00" not in response.content and b"\x07" not in response.content


def test_the_workers_page_links_the_current_job(admin_client, queue):
    from tests.admin.helpers import running_job

    with running_job(queue, limit=3) as (job, _):
        doc = parse(admin_client.get("/admin/django_jobqueue/worker/"))
        link = doc.one("table", id="jobqueue-workers").find("a", href=f"{ADMIN}-/find/{job.id}/")
        assert link is not None
        response = admin_client.get(link.get("href"))
        assert response.status_code == 302
        assert response["Location"] == f"{ADMIN}default/job/{job.id}/"


def test_connection_names_reaching_one_server_are_read_once(admin_client, redis_url,
                                                             count_round_trips):
    from tests.admin.helpers import live_worker

    settings = jobqueue_settings(redis_url, QUEUES={"a": {}, "b": {"CONNECTION": "alias"}})
    settings["CONNECTIONS"]["alias"] = {"URL": redis_url}
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        # the worker has a client of its own, so that only the page's requests are counted
        own = redis.Redis.from_url(redis_url)
        with live_worker(Queue("a", connection=own), Queue("b", connection=own)):
            assert admin_client.get(ADMIN).status_code == 200  # warm up
            default, alias = clients.get_connection("default"), clients.get_connection("alias")
            with count_round_trips(default) as on_default, count_round_trips(alias) as on_alias:
                response = admin_client.get(ADMIN)
            stats = admin_client.get(f"{ADMIN}-/stats.json").json()
    clients.reset()
    assert on_default.value + on_alias.value == 1
    assert len(stats["workers"]) == 1  # not once per connection name
    assert stats["queues"]["a"]["workers"] == stats["queues"]["b"]["workers"] == 1
    assert "1 live worker" in parse(response).one("div", id="content-main").clean_text


def test_a_connection_that_cannot_be_built_is_reported_not_a_500(admin_client, redis_url):
    settings = jobqueue_settings(redis_url, QUEUES={"a": {}, "b": {"CONNECTION": "bad"}})
    settings["CONNECTIONS"]["bad"] = {"URL": "http://not-redis.example/0"}
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        response = admin_client.get(ADMIN)
        stats = admin_client.get(f"{ADMIN}-/stats.json").json()
    clients.reset()
    assert response.status_code == 200
    doc = parse(response)
    assert "unreachable" in doc.one("tr", data_queue="b").clean_text
    assert "Connection bad could not be read" in doc.one("div", id="content-main").clean_text
    assert stats["queues"]["b"]["reachable"] is False and "bad" in stats["errors"]
