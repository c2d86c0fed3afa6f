"""The pages over several Redis connections: two round trips per server on the dashboard
(the counts, then the charts' history and depth), connection names that reach one server read
once, a connection that is down or cannot be built reported while the others stay
readable."""

from __future__ import annotations

import pytest
import redis
from django.test.utils import override_settings

from django_jobqueue import Queue, get_queue
from django_jobqueue.integration import clients
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import ADMIN, dashboard_counts, failed_job, parse

pytestmark = pytest.mark.timeout(60)


def test_two_round_trips_per_connection(admin_client, redis_url, count_round_trips):
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
        default, other = clients.get_client("default"), clients.get_client("other")
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
    # per connection: the counts, the charts' history, their depth (admin/activity.py)
    assert on_default.value == 2 and on_other.value == 2
    assert counts["a"]["queued"] == 1 and counts["d"]["queued"] == 2
    assert counts["e"]["failed"] == 1 and counts["c"]["queued"] == 0
    assert page.status_code == 200
    assert stats["queues"]["d"]["queued"] == 2
    assert history["Location"] == f"{ADMIN}e/job/{e_job}/"


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
            default, alias = clients.get_client("default"), clients.get_client("alias")
            with count_round_trips(default) as on_default, count_round_trips(alias) as on_alias:
                response = admin_client.get(ADMIN)
            stats = admin_client.get(f"{ADMIN}-/stats.json").json()
    clients.reset()
    assert on_default.value + on_alias.value == 2  # counts, then history and depth: once
    assert len(stats["workers"]) == 1  # not once per connection name
    assert stats["queues"]["a"]["workers"] == stats["queues"]["b"]["workers"] == 1
    assert "1 live worker" in parse(response).one("div", id="content-main").clean_text


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
