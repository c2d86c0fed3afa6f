"""The admin's "Groups" pages in a real browser (headless Chromium, tests/admin/browser_site.py):
the list of a connection's groups newest first with their progress, one group's counts, jobs
and callbacks, the cancel action (confirmation page, change permission), 404s, and corrupt
records shown as such; then, through Django's test client, paging, the admin log and the
history link."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from django_jobqueue import Group, Queue, get_queue
from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.browser_site import OPERATOR, VIEWER, browser, not_found, screenshot, site
from tests.admin.conftest import client_for
from tests.admin.helpers import ADMIN, MOUNT, parse, work

__all__ = ["browser", "site"]  # fixtures

pytestmark = pytest.mark.timeout(120)

GROUPS = f"{ADMIN}-/groups/default/"
ECHO = "tests.admin.jobs.echo"


def make_group(queue, name, count=2, **callbacks):
    group = Group.create(connection=queue.connection, name=name, **callbacks)
    jobs_ = group.enqueue_many(queue, [Queue.prepare_data(jobs.add, args=(n, n))
                                       for n in range(count)])
    return group, jobs_


def mixed_group(queue):
    """Three jobs: one finished, one failed (on "default"), one still queued on "low"; and
    the three callbacks, which have not run."""
    group = Group.create(connection=queue.connection, name="nightly-report", on_complete=ECHO,
                         on_success=ECHO, on_failure=ECHO)
    done, failed = group.enqueue_many(queue, [Queue.prepare_data(jobs.add, args=(1, 2)),
                                              Queue.prepare_data(jobs.fail, args=("no",))])
    (waiting,) = group.enqueue_many(get_queue("low"), [Queue.prepare_data(jobs.add,
                                                                          args=(3, 4))])
    work(queue)
    return group, (done, failed, waiting)


def cells(browser, name):
    row = f'#jobqueue-groups tr[data-group="{name}"]'
    return {col: browser.text(f'{row} [data-col="{col}"]')
            for col in ("progress", "pending", "finished", "failed", "canceled", "completed")}


def test_the_list_shows_groups_newest_first_with_their_progress(browser, queue):
    _, (first, _) = make_group(queue, "older")
    first.cancel()
    work(queue)  # older: one canceled, one finished: completed
    _, (one, _, _) = make_group(queue, "newer", count=3)
    one.cancel()  # newer: one of three ended
    browser.login(OPERATOR, next_path=ADMIN)
    browser.click_and_wait_for_new_page("#jobqueue-nav-groups")
    assert browser.path == GROUPS  # one connection: its page at once
    browser.assert_no_server_error()
    names = [tr.get_attribute("data-group") for tr in browser.find_all("#jobqueue-groups tr")
             if tr.get_attribute("data-group")]
    assert names == ["newer", "older"]
    newer, older = cells(browser, "newer"), cells(browser, "older")
    assert newer == {"progress": "1 of 3", "pending": "2", "finished": "0", "failed": "0",
                     "canceled": "1", "completed": "not yet"}
    assert (older["progress"], older["finished"], older["canceled"]) == ("2 of 2", "1", "1")
    assert older["completed"][:2] == "20"  # a date
    bar = browser.find('#jobqueue-groups tr[data-group="newer"] progress')
    assert bar.get_attribute("value") == "33"
    screenshot(browser, "groups-list")
    browser.click_and_wait_for_new_page('#jobqueue-groups tr[data-group="newer"] a')
    assert browser.path == f"{GROUPS}newer/"


def test_the_admin_index_leads_to_the_groups(browser, queue):
    make_group(queue, "indexed")
    browser.login(VIEWER, next_path="/admin/")
    browser.click_and_wait_for_new_page('a[href="/admin/django_jobqueue/group/"]')
    assert browser.path == GROUPS
    browser.find('#jobqueue-groups tr[data-group="indexed"]')


def test_the_group_page_shows_its_counts_jobs_and_callbacks(browser, queue):
    group, (done, failed, waiting) = mixed_group(queue)
    browser.login(VIEWER, next_path=f"{GROUPS}{group.name}/")
    browser.assert_no_server_error()
    assert browser.text("#jobqueue-group-progress") == "2 of 3"
    assert "not yet: 1 pending" in browser.text('#jobqueue-group [data-col="completed"]')
    ended = {row.get_attribute("data-count"): row.find_element("css selector", "td").text
             for row in browser.find_all("#jobqueue-group-counts tr")}
    assert ended == {"pending": "1", "finished": "1", "failed": "1", "stopped": "0",
                     "canceled": "0", "deleted": "0"}
    live = {row.get_attribute("data-status"): row.find_element("css selector", "td").text
            for row in browser.find_all("#jobqueue-group-statuses tr")}
    assert live == {"finished": "1", "failed": "1", "queued": "1"}
    listed = [(tr.get_attribute("data-job-id"),
               tr.find_element("css selector", '[data-col="status"]').text)
              for tr in browser.find_all("#jobqueue-group-jobs tr[data-job-id]")]
    assert listed == [(done.id, "finished"), (failed.id, "failed"), (waiting.id, "queued")]
    for kind in ("on_complete", "on_success", "on_failure"):
        row = f'#jobqueue-group-callbacks tr[data-callback="{kind}"]'
        assert browser.text(f'{row} [data-col="note"]') == "runs when the group completes"
        assert not browser.exists(f"{row} a")  # its job does not exist yet
    assert not browser.exists("#jobqueue-group-cancel")  # a viewer may not act
    shot = screenshot(browser, "group-detail")
    assert shot.stat().st_size > 10_000

    # a job links to its page, which links back to the group
    browser.click_and_wait_for_new_page(f'#jobqueue-group-jobs tr[data-job-id="{waiting.id}"] a')
    assert browser.path == f"{ADMIN}low/job/{waiting.id}/"
    browser.click_and_wait_for_new_page(f'#jobqueue-job a[href="{GROUPS}{group.name}/"]')
    assert browser.path == f"{GROUPS}{group.name}/"


def test_cancel_asks_then_cancels_and_the_group_completes(browser, queue, connection):
    group, (_, _, waiting) = mixed_group(queue)
    browser.login(OPERATOR, next_path=f"{GROUPS}{group.name}/")
    browser.click_and_wait_for_new_page("#jobqueue-group-cancel")
    assert browser.path == f"{GROUPS}{group.name}/cancel/"
    assert "not started" in browser.text("#content-main p")
    assert waiting.get_status() == "queued"  # nothing done by the GET
    browser.click_and_wait_for_new_page("#jobqueue-confirm")
    assert browser.path == f"{GROUPS}{group.name}/"
    assert any("1 job canceled" in m for m in browser.messages("success")), browser.messages()
    assert waiting.get_status() == "canceled"
    assert browser.text("#jobqueue-group-progress") == "3 of 3"
    assert not browser.exists("#jobqueue-group-cancel")  # completed: nothing left to cancel
    # the callbacks' jobs exist now: on_complete and on_failure (a job failed), on_success not
    ids = group.callback_job_ids()
    for kind in ("on_complete", "on_failure"):
        link = browser.find(f'#jobqueue-group-callbacks tr[data-callback="{kind}"] a')
        assert link.get_attribute("href").endswith(f"/default/job/{ids[kind]}/")
    assert browser.text('#jobqueue-group-callbacks tr[data-callback="on_success"] '
                        '[data-col="note"]') == "did not run: not every job finished"


def test_a_viewer_may_not_cancel(browser, queue):
    group, (_, _, waiting) = mixed_group(queue)
    browser.login(VIEWER)
    assert browser.status_of(f"{GROUPS}{group.name}/cancel/") == 403
    assert browser.status_of(f"{GROUPS}{group.name}/cancel/", post=True) == 403
    assert waiting.get_status() == "queued"


@pytest.mark.parametrize(("path", "why"), [
    (f"{GROUPS}nosuch/", "No group 'nosuch'"),
    (f"{GROUPS}not%20a%20name/", "is not a group name"),
    (f"{ADMIN}-/groups/elsewhere/", "No queue uses a connection named 'elsewhere'"),
    (f"{ADMIN}-/groups/elsewhere/g/", "No queue uses a connection"),
    (f"{GROUPS}nosuch/cancel/", "No group 'nosuch'"),
    (f"{GROUPS}real/explode/", "is not an action on groups"),
])
def test_unknown_groups_connections_and_actions_are_404(browser, queue, path, why):
    make_group(queue, "real")
    browser.login(OPERATOR)
    assert why in not_found(browser, path)


def test_corrupt_records_show_as_such_without_a_500(browser, queue, connection):
    make_group(queue, "fine")
    connection.set(keys.group("stringy"), "not a hash")
    connection.zadd(keys.groups(), {"stringy": 1})
    make_group(queue, "odd-counts")
    connection.hset(keys.group("odd-counts"), mapping={"total": "lots", "completed_at": "x"})
    connection.set(keys.group_jobs("odd-counts"), "not a zset")
    browser.login(VIEWER, next_path=GROUPS)
    browser.assert_no_server_error()
    problem = browser.text('#jobqueue-groups tr[data-group="stringy"] [data-col="problem"]')
    assert "is a string, not a hash" in problem
    assert "total is 'lots', not a count" in browser.text(
        '#jobqueue-groups tr[data-group="odd-counts"] [data-col="progress"]')
    assert browser.exists('#jobqueue-groups tr[data-group="fine"]')  # the rest still shows

    browser.open(f"{GROUPS}stringy/")
    browser.assert_no_server_error()
    assert "is a string, not a hash" in browser.text("#jobqueue-problems")
    assert browser.text('#jobqueue-group [data-col="progress"]') == "cannot be read"
    browser.open(f"{GROUPS}odd-counts/")
    browser.assert_no_server_error()
    problems = browser.text("#jobqueue-problems")
    assert "total is 'lots'" in problems and "completed_at is 'x', not a time" in problems
    assert "is not a sorted set" in problems


# --------------------------------------------------------------------------- test client


def test_many_groups_are_paged_newest_first(admin_client, queue, connection):
    for n in range(30):
        Group.create(connection=connection, name=f"g{n:02d}")
        connection.zadd(keys.groups(), {f"g{n:02d}": 1000 + n})  # distinct creation times
    first = parse(admin_client.get(GROUPS))
    shown = [tr.get("data-group") for tr in first.find_all("tr", data_group=True)]
    assert shown == [f"g{n:02d}" for n in range(29, 4, -1)]
    second = parse(admin_client.get(f"{GROUPS}?page=2"))
    assert [tr.get("data-group") for tr in second.find_all("tr", data_group=True)] == [
        f"g{n:02d}" for n in range(4, -1, -1)]
    assert "30 groups, page 2 of 2" in second.clean_text
    far = parse(admin_client.get(f"{GROUPS}?page=99999999999999999999"))  # the last page
    assert "page 2 of 2" in far.clean_text


def test_a_groups_jobs_are_paged(admin_client, queue):
    group, made = make_group(queue, "big", count=60)
    page = parse(admin_client.get(f"{GROUPS}big/?page=2"))
    listed = [tr.get("data-job-id") for tr in page.find_all("tr", data_job_id=True)]
    assert listed == [j.id for j in made[50:]]
    assert "60 jobs in enqueue order, page 2 of 2" in page.clean_text


def test_cancel_is_logged_and_the_history_link_leads_to_the_group(users, queue):
    make_group(queue, "logged")
    client = client_for(users["operator"])
    assert client.get(f"{GROUPS}logged/cancel/").status_code == 200  # the question
    response = client.post(f"{GROUPS}logged/cancel/", {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == f"{GROUPS}logged/"
    entry = LogEntry.objects.get(object_id="logged")
    assert entry.change_message == "Canceled 2 jobs of group logged (connection default)."
    history = client.get(f"{ADMIN}logged/change/")
    assert history.status_code == 302 and history["Location"] == f"{GROUPS}logged/"
    assert client.put(f"{GROUPS}logged/cancel/").status_code == 405


def test_the_pages_are_mounted_outside_the_admin_too(admin_client, queue):
    make_group(queue, "mounted")
    response = admin_client.get(f"{MOUNT}-/groups/")
    assert response.status_code == 302 and response["Location"] == f"{MOUNT}-/groups/default/"
    page = parse(admin_client.get(f"{MOUNT}-/groups/default/"))
    link = page.one("tr", data_group="mounted").one("a")
    assert link.get("href") == f"{MOUNT}-/groups/default/mounted/"
    assert admin_client.get(link.get("href")).status_code == 200


def test_a_job_id_that_is_no_text_is_shown_as_such(users, queue, connection):
    group, made = make_group(queue, "odd-ids")
    connection.zadd(keys.group_jobs("odd-ids"), {b"\xff\xfe": 99})
    client = client_for(users["operator"])
    response = client.get(f"{GROUPS}odd-ids/")
    assert response.status_code == 200
    doc = parse(response)
    assert "The statuses of its jobs cannot be read" in doc.one(
        "div", id="jobqueue-problems").clean_text
    rows = doc.one("table", id="jobqueue-group-jobs").find_all("tr", data_job_id=True)
    assert [r.get("data-job-id") for r in rows[:2]] == [j.id for j in made]
    assert "not a job id" in rows[2].clean_text
    response = client.post(f"{GROUPS}odd-ids/cancel/", {"confirm": "yes"}, follow=True)
    assert response.status_code == 200
    assert made[0].get_status() == "queued"  # nothing canceled, and said so
    assert "nothing was canceled" in response.content.decode()
