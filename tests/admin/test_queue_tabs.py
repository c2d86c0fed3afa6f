"""A queue's tabs over many jobs: registry pages by rank, expired entries neither counted
nor listed, scheduled and deferred tabs paginated, searches (an exact id in another tab,
control characters)."""

from __future__ import annotations

import time

import pytest

from django_jobqueue import Queue
from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.helpers import ADMIN, dashboard_counts, finished_job, listed_ids, parse, work

pytestmark = pytest.mark.timeout(60)


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


def test_an_exact_id_search_says_which_tab_holds_the_job(admin_client, queue):
    job = finished_job(queue)
    doc = parse(admin_client.get(f"{ADMIN}default/failed/", {"q": job.id}))
    note = doc.one("strong", id="jobqueue-search-elsewhere")
    assert "finished" in note.clean_text
    assert note.one("a").get("href") == f"{ADMIN}default/job/{job.id}/"


def test_a_search_for_control_characters_is_harmless(admin_client, queue):
    response = admin_client.get(f"{ADMIN}default/", {"q": "a\x00b\x07"})
    assert response.status_code == 200
    assert b"\x00" not in response.content and b"\x07" not in response.content
