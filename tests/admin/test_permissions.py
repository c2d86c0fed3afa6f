"""Who may see and do what: view_queue to see, change_queue to act (superuser: both); staff
without them get 403 everywhere; non-staff and anonymous users go to the admin's login."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User

from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.helpers import ADMIN, MOUNT, STATES, WORKERS, client_for, failed_job, parse

pytestmark = pytest.mark.timeout(60)

PAGES = [
    ADMIN, f"{ADMIN}default/", *(f"{ADMIN}default/{state}/" for state in STATES),
    f"{ADMIN}default/job/{{job}}/", WORKERS,
    MOUNT, f"{MOUNT}default/", f"{MOUNT}default/failed/", f"{MOUNT}default/job/{{job}}/",
    f"{MOUNT}-/workers/",
]
JOB_ACTIONS = [f"{base}default/job/{{job}}/{action}/" for base in (ADMIN, MOUNT)
               for action in ("requeue", "cancel", "stop", "delete")]
QUEUE_ACTIONS = [f"{base}default/-/{action}/" for base in (ADMIN, MOUNT)
                 for action in ("requeue-failed", "delete-failed", "empty")]
BULK = [f"{ADMIN}default/failed/", f"{ADMIN}default/", f"{MOUNT}default/failed/"]
ACTION_URLS = JOB_ACTIONS + QUEUE_ACTIONS


@pytest.fixture
def job(queue):
    failed = failed_job(queue)
    queue.enqueue(jobs.add, 1, 1)  # something for "empty" to delete
    return failed


def _unchanged(queue, job) -> None:
    assert queue.connection.hget(keys.job(job.id), "status") == b"failed"
    assert len(queue.failed_job_registry) == 1 and queue.count == 1
    assert LogEntry.objects.count() == 0


# --------------------------------------------------------------------------- allowed


@pytest.mark.parametrize("user", ["superuser", "viewer", "operator"])
@pytest.mark.parametrize("url", PAGES)
def test_who_may_view_sees_every_page(users, job, user, url):
    response = client_for(users[user]).get(url.format(job=job.id))
    assert response.status_code == 200


@pytest.mark.parametrize("user", ["superuser", "operator"])
@pytest.mark.parametrize("url", QUEUE_ACTIONS)
def test_who_may_act_sees_the_confirmation_pages(users, job, user, url):
    assert client_for(users[user]).get(url).status_code == 200


@pytest.mark.parametrize("user", ["superuser", "operator"])
def test_who_may_act_sees_the_action_buttons(users, job, user):
    client = client_for(users[user])
    doc = parse(client.get(f"{ADMIN}default/job/{job.id}/"))
    assert {b.get("data-action") for b in doc.find_all("button", data_action=True)} == \
        {"requeue", "delete"}
    tab = parse(client.get(f"{ADMIN}default/failed/"))
    assert tab.find("input", name="_selected_job") is not None
    assert tab.one("form", id="jobqueue-bulk").find("select", name="action") is not None
    assert tab.find_all("a", data_queue_action=True)


# --------------------------------------------------------------------------- staff without

@pytest.mark.parametrize("url", PAGES + QUEUE_ACTIONS)
def test_staff_without_permission_gets_403_on_every_page(users, job, url):
    response = client_for(users["staff"]).get(url.format(job=job.id))
    assert response.status_code == 403


def test_the_403_page_is_the_admins(users, job):
    response = client_for(users["staff"]).get(f"{ADMIN}default/")
    assert response.status_code == 403
    doc = parse(response)
    assert doc.find(id="site-name") is not None  # the admin's header, not a bare 403
    assert "Django administration" in doc.one(id="site-name").clean_text


@pytest.mark.parametrize("url", ACTION_URLS + BULK)
def test_staff_without_permission_gets_403_on_every_action(users, queue, job, url):
    client = client_for(users["staff"])
    data = {"action": "delete", "_selected_job": [job.id]}
    assert client.post(url.format(job=job.id), data).status_code == 403
    assert client.get(url.format(job=job.id)).status_code == 403
    _unchanged(queue, job)


def test_staff_without_permission_does_not_see_the_app(users):
    client = client_for(users["staff"])
    index = client.get("/admin/")
    assert index.status_code == 200
    hrefs = [a.get("href") for a in parse(index).find_all("a")]
    assert ADMIN not in hrefs and WORKERS not in hrefs


# --------------------------------------------------------------------------- viewer


@pytest.mark.parametrize("url", ACTION_URLS + BULK)
def test_viewer_gets_403_on_every_action(users, queue, job, url):
    client = client_for(users["viewer"])
    data = {"action": "delete", "_selected_job": [job.id]}
    assert client.post(url.format(job=job.id), data).status_code == 403
    if url not in BULK:  # a tab's GET is its page, which a viewer may see
        assert client.get(url.format(job=job.id)).status_code == 403
    _unchanged(queue, job)


def test_viewer_gets_403_on_the_stop_of_a_running_job(users, queue):
    from tests.admin.helpers import running_job

    client = client_for(users["viewer"])
    with running_job(queue) as (running, _worker):
        assert client.post(f"{ADMIN}default/job/{running.id}/stop/").status_code == 403
        assert client.post(f"{ADMIN}default/started/",
                           {"action": "stop", "_selected_job": [running.id]}).status_code == 403
        assert not queue.connection.keys(keys.stop("*"))
        assert queue.connection.hget(keys.job(running.id), "status") == b"started"


def test_viewer_sees_no_action_buttons(users, queue, job):
    client = client_for(users["viewer"])
    doc = parse(client.get(f"{ADMIN}default/job/{job.id}/"))
    assert doc.find_all("button", data_action=True) == []
    content = doc.one("div", id="content-main")
    assert [f for f in content.find_all("form") if f.get("method") == "post"] == []
    for state in ("failed", "queued"):
        tab = parse(client.get(f"{ADMIN}default/{state}/"))
        assert tab.find("input", name="_selected_job") is None
        assert tab.find("select", name="action") is None
        assert tab.find_all("a", data_queue_action=True) == []
        assert listed_rows(tab)  # the jobs are still listed
    with_worker_doc = parse(client.get(f"{ADMIN}default/"))
    assert with_worker_doc.find("button", data_action=True) is None


def listed_rows(doc):
    return doc.one("table", id="jobqueue-jobs").find_all("tr", data_job_id=True)


# --------------------------------------------------------------------------- not staff


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
@pytest.mark.parametrize("url", PAGES + ACTION_URLS)
def test_non_staff_and_anonymous_go_to_the_login(users, queue, job, who, url):
    client = client_for(users[who] if who != "anonymous" else None)
    target = url.format(job=job.id)
    response = client.get(target)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/admin/login/")
    assert f"next={quote(target)}" in location or f"next={target}" in location
    response = client.post(target, {"action": "delete", "_selected_job": [job.id]})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    _unchanged(queue, job)


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
@pytest.mark.parametrize("url", BULK)
def test_non_staff_and_anonymous_cannot_post_bulk_actions(users, queue, job, who, url):
    client = client_for(users[who] if who != "anonymous" else None)
    response = client.post(url, {"action": "delete", "_selected_job": [job.id]})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    _unchanged(queue, job)


def test_an_inactive_staff_user_is_refused(users, queue, job):
    operator = users["operator"]
    client = client_for(operator)
    operator.is_active = False
    operator.save()
    response = client.post(f"{ADMIN}default/job/{job.id}/delete/")
    assert response.status_code == 302
    _unchanged(queue, job)


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
