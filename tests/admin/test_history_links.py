"""The admin's history ("Recent actions") links of the job queue's log entries: to the job's
page, to the queue, the admin's 404 for a job that is gone, and only for who may view."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from django_jobqueue import get_queue
from tests.admin.helpers import ADMIN, CONFIRM, client_for, failed_job, parse

pytestmark = pytest.mark.timeout(60)


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
