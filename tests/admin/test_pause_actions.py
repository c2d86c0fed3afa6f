"""Pausing a queue from the admin: the queue page's pause/resume button (POST only, the change
permission, an admin LogEntry and a message), the "paused" badge on the queue page and the
dashboard, and the paused flag in stats.json and /metrics."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from django_jobqueue import get_queue
from tests.admin import jobs
from tests.admin.helpers import ADMIN, MOUNT, client_for, messages_of, parse

pytestmark = pytest.mark.timeout(60)

PAUSE, RESUME = f"{ADMIN}default/-/pause/", f"{ADMIN}default/-/resume/"


def switch(doc):
    """(action, form URL, tab) of the queue page's pause/resume button, or None."""
    form = doc.find("form", id="jobqueue-switch")
    if form is None:
        return None
    button = form.one("button", data_queue_switch=True)
    return (button.get("data-queue-switch"), form.get("action"),
            form.one("input", name="state").get("value"))


def test_an_operator_pauses_and_resumes_the_queue_from_its_page(users):
    client = client_for(users["operator"])
    queue = get_queue("default")
    page = parse(client.get(f"{ADMIN}default/"))
    assert switch(page) == ("pause", PAUSE, "queued")
    assert page.find(id="jobqueue-paused") is None

    response = client.post(PAUSE, {"state": "queued"}, follow=True)
    assert response.redirect_chain == [(f"{ADMIN}default/queued/", 302)]
    assert queue.is_paused
    assert messages_of(response) == ["Queue default paused: it accepts jobs, and no worker takes "
                                  "them until it is resumed."]
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.action_flag, entry.change_message, entry.user) == \
        ("default", CHANGE, "Paused queue default.", users["operator"])

    page = parse(response)
    assert "paused" in page.one(id="jobqueue-paused").clean_text
    assert switch(page) == ("resume", RESUME, "queued")
    job = queue.enqueue(jobs.add, 1, 2)  # a paused queue still accepts jobs
    assert job.get_status() == "queued"

    response = client.post(RESUME, {"state": "failed"}, follow=True)
    assert response.redirect_chain == [(f"{ADMIN}default/failed/", 302)]
    assert not queue.is_paused
    assert messages_of(response) == ["Queue default resumed: workers take its jobs again."]
    assert [e.change_message for e in LogEntry.objects.order_by("pk")] == \
        ["Paused queue default.", "Resumed queue default."]
    assert parse(response).find(id="jobqueue-paused") is None


def test_pausing_a_paused_queue_says_so_and_logs_nothing(users):
    client = client_for(users["operator"])
    get_queue("default").pause()
    response = client.post(PAUSE, follow=True)
    assert response.redirect_chain == [(f"{ADMIN}default/", 302)]  # no tab given
    assert messages_of(response) == ["Queue default was paused already."]
    assert LogEntry.objects.count() == 0
    assert get_queue("default").is_paused


def test_the_dashboard_marks_paused_queues(admin_client):
    get_queue("high").pause()
    doc = parse(admin_client.get(ADMIN))
    rows = {row.get("data-queue"): row for row in
            doc.one("table", id="jobqueue-dashboard").find_all("tr", data_queue=True)}
    assert set(rows) == {"default", "high", "low"}
    marked = {name for name, row in rows.items() if row.find("span", data_paused=True)}
    assert marked == {"high"}


def test_stats_and_metrics_say_which_queues_are_paused(admin_client):
    get_queue("low").pause()
    body = admin_client.get(f"{ADMIN}-/stats.json").json()
    assert {name: q["paused"] for name, q in body["queues"].items()} == \
        {"default": False, "high": False, "low": True}
    text = admin_client.get(f"{ADMIN}-/metrics").content.decode()
    assert 'jobqueue_paused{queue="low"} 1' in text.splitlines()
    assert 'jobqueue_paused{queue="default"} 0' in text.splitlines()


def test_the_pages_mounted_outside_the_admin_pause_too(admin_client):
    response = admin_client.post(f"{MOUNT}default/-/pause/")
    assert response.status_code == 302 and response["Location"] == f"{MOUNT}default/"
    assert get_queue("default").is_paused


@pytest.mark.parametrize("url", [PAUSE, RESUME])
def test_pause_and_resume_are_post_only(admin_client, url):
    if url == RESUME:
        get_queue("default").pause()
    assert admin_client.get(url).status_code == 405
    assert get_queue("default").is_paused is (url == RESUME)
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("who", ["viewer", "staff"])
@pytest.mark.parametrize("url", [PAUSE, RESUME])
def test_who_may_not_change_cannot_pause_or_resume(users, who, url):
    queue = get_queue("default")
    if url == RESUME:
        queue.pause()
    client = client_for(users[who])
    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 403
    assert queue.is_paused is (url == RESUME)
    assert LogEntry.objects.count() == 0


def test_a_viewer_sees_the_badge_but_no_button(users):
    get_queue("default").pause()
    doc = parse(client_for(users["viewer"]).get(f"{ADMIN}default/"))
    assert switch(doc) is None
    assert doc.find(id="jobqueue-paused") is not None


@pytest.mark.parametrize("queue", ["nosuch", "bad%20name", "x" * 200])
def test_an_unknown_or_invalid_queue_is_a_404(admin_client, queue):
    response = admin_client.post(f"{ADMIN}{queue}/-/pause/")
    assert response.status_code == 404
    assert LogEntry.objects.count() == 0
