"""Queue names that look like the admin's own URL parts (``-``, ``job``, ``change``,
``metrics``...) or hold dots, colons and dashes: every page and action still works."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from django_jobqueue import get_queue
from django_jobqueue.engine import keys
from django_jobqueue.integration import clients
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import ADMIN, CONFIRM, dashboard_counts, failed_job, listed_ids, parse

pytestmark = pytest.mark.timeout(60)


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
