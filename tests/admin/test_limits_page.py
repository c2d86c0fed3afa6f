"""The admin's "Limits" pages in a real browser (headless Chromium, tests/admin/browser_site.py):
every limit key of a connection with its definition, its use and its waiting jobs, one key's
page, 404s, and corrupt records shown as such; then, through Django's test client, keys
holding ``/``, and the job page's limit rows."""

from __future__ import annotations

import pytest

from django_jobqueue import get_queue
from django_jobqueue.engine import keys, steps
from tests.admin import jobs
from tests.admin.browser_site import OPERATOR, VIEWER, browser, not_found, screenshot, site
from tests.admin.helpers import ADMIN, MOUNT, field_cell, parse, work

__all__ = ["browser", "site"]  # fixtures

pytestmark = pytest.mark.timeout(120)

LIMITS = f"{ADMIN}-/limits/default/"


def take(connection, queue_name, worker="w1"):
    """One take, as a worker makes it (the job is started, its slot held; nothing runs)."""
    return steps.take(connection, steps.Take(worker, 60, [queue_name]))


def limited_jobs(queue, connection):
    """"stripe-api": 2 starts an hour, 3 enqueued on "default" and run (2 finished, 1
    waits); "reports": 1 at once, 2 on "high" (1 started, 1 waits)."""
    for n in range(3):
        queue.enqueue(jobs.add, n, n, rate_limit="2/h", limit_key="stripe-api")
    work(queue)
    high = get_queue("high")
    running, waiting = (high.enqueue(jobs.add, n, n, concurrency_limit=1, limit_key="reports")
                        for n in range(2))
    assert take(connection, "high").job_id == running.id
    assert take(connection, "high", "w2") is None
    [rate_waiter] = connection.zrange(keys.limit_waiting("stripe-api"), 0, -1)
    return rate_waiter.decode(), running, waiting


def row_texts(browser, key):
    row = f'#jobqueue-limits tr[data-limit="{key}"]'
    return {col: browser.text(f'{row} [data-col="{col}"]')
            for col in ("definition", "rate", "concurrency", "waiting")}


def test_the_list_shows_each_key_its_definition_and_use(browser, queue, connection):
    limited_jobs(queue, connection)
    browser.login(VIEWER, next_path=ADMIN)
    browser.click_and_wait_for_new_page("#jobqueue-nav-limits")
    assert browser.path == LIMITS
    browser.assert_no_server_error()
    assert row_texts(browser, "stripe-api") == {
        "definition": "2 per 3600 s", "rate": "2 of 2 per 3600 s", "concurrency": "—",
        "waiting": "1"}
    assert row_texts(browser, "reports") == {
        "definition": "1 at once", "rate": "—", "concurrency": "1 of 1 running",
        "waiting": "1"}
    shot = screenshot(browser, "limits")
    assert shot.stat().st_size > 10_000
    browser.click_and_wait_for_new_page('#jobqueue-limits tr[data-limit="reports"] '
                                        '[data-col="key"] a')
    assert browser.path == f"{LIMITS}key/reports/"


def test_a_keys_page_lists_its_waiting_and_running_jobs(browser, queue, connection):
    rate_waiter, running, waiting = limited_jobs(queue, connection)
    browser.login(VIEWER, next_path=f"{LIMITS}key/reports/")
    browser.assert_no_server_error()
    assert browser.text('#jobqueue-limit [data-col="concurrency"]') == "1 of 1 running"
    row = f'#jobqueue-limit-waiting tr[data-job-id="{waiting.id}"]'
    assert browser.text(f'{row} [data-col="status"]') == "scheduled"
    assert browser.find(f"{row} a").get_attribute("href").endswith(f"/high/job/{waiting.id}/")
    assert browser.text(f'#jobqueue-limit-running tr[data-job-id="{running.id}"] '
                        '[data-col="status"]') == "started"
    screenshot(browser, "limit-detail")
    browser.open(f"{LIMITS}key/stripe-api/")
    assert [tr.get_attribute("data-job-id")
            for tr in browser.find_all("#jobqueue-limit-waiting tr[data-job-id]")] == [
        rate_waiter]
    # the waiting job's page names its limit, and links back here
    browser.click_and_wait_for_new_page(f'#jobqueue-limit-waiting tr[data-job-id='
                                        f'"{rate_waiter}"] a')
    assert browser.path == f"{ADMIN}default/job/{rate_waiter}/"
    assert "2 starts per 3600 s" in browser.text("#jobqueue-job")
    browser.click_and_wait_for_new_page(f'#jobqueue-job a[href="{LIMITS}key/stripe-api/"]')
    assert browser.path == f"{LIMITS}key/stripe-api/"


@pytest.mark.parametrize(("path", "why"), [
    (f"{LIMITS}key/nosuch/", "No limit key 'nosuch'"),
    (f"{LIMITS}key/stripe-api/extra/", "No limit key 'stripe-api/extra'"),
    (f"{ADMIN}-/limits/elsewhere/", "No queue uses a connection named 'elsewhere'"),
    (f"{ADMIN}-/limits/elsewhere/key/stripe-api/", "No queue uses a connection"),
])
def test_unknown_keys_and_connections_are_404(browser, queue, path, why):
    queue.enqueue(jobs.add, 1, 1, rate_limit="2/h", limit_key="stripe-api")
    browser.login(OPERATOR)
    assert why in not_found(browser, path)


def test_corrupt_records_show_as_such_without_a_500(browser, queue, connection):
    queue.enqueue(jobs.add, 1, 1, rate_limit="2/h", limit_key="fine")
    queue.enqueue(jobs.add, 1, 1, rate_limit="2/h", limit_key="garbled")
    connection.hset(keys.limits(), "garbled", "lots/often;maybe")
    connection.set(keys.limit_waiting("garbled"), "not a zset")
    browser.login(VIEWER, next_path=LIMITS)
    browser.assert_no_server_error()
    assert row_texts(browser, "garbled")["definition"] == "⚠ definition cannot be read"
    assert row_texts(browser, "fine")["definition"] == "2 per 3600 s"  # the rest still shows
    browser.open(f"{LIMITS}key/garbled/")
    browser.assert_no_server_error()
    problems = browser.text("#jobqueue-problems")
    assert "Its definition is 'lots/often;maybe' as stored" in problems
    assert "Its waiting list" in problems

    connection.set(keys.limits(), "not a hash")  # the whole record
    browser.open(LIMITS)
    browser.assert_no_server_error()
    assert "The record of limits" in browser.text("#jobqueue-problems")
    assert not browser.exists("#jobqueue-limits tr[data-limit]")


# --------------------------------------------------------------------------- test client


def test_a_key_holding_slashes_and_colons_has_its_page(admin_client, queue):
    queue.enqueue(jobs.add, 1, 1, concurrency_limit=3, limit_key="api/v1:stripe@eu")
    page = parse(admin_client.get(LIMITS))
    link = page.one("tr", data_limit="api/v1:stripe@eu").one("a").get("href")
    assert link == f"{LIMITS}key/api/v1:stripe@eu/"
    response = admin_client.get(link)
    assert response.status_code == 200
    assert "0 of 3 running" in parse(response).one("table", id="jobqueue-limit").clean_text


def test_the_job_page_shows_its_limit(admin_client, queue):
    job = queue.enqueue(jobs.add, 1, 1, rate_limit="100/m", concurrency_limit=5)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    key = field_cell(doc, "Limit key")
    assert key.clean_text == "tests.admin.jobs.add"
    assert key.one("a").get("href") == f"{LIMITS}key/tests.admin.jobs.add/"
    assert field_cell(doc, "Rate limit").clean_text == "100 starts per 60 s (stored as 100/60)"
    assert field_cell(doc, "Concurrency limit").clean_text == "5"
    plain = parse(admin_client.get(f"{ADMIN}default/job/"
                                   f"{queue.enqueue(jobs.add, 2, 2).id}/"))
    assert "Limit key" not in plain.clean_text  # rows only for the jobs that have a limit


def test_a_corrupt_rate_on_a_job_is_shown_as_stored(admin_client, queue, connection):
    job = queue.enqueue(jobs.add, 1, 1, rate_limit="100/m")
    connection.hset(keys.job(job.id), "limit_rate", "fast")
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    assert "fast" in field_cell(doc, "Rate limit").clean_text
    assert "not a rate" in field_cell(doc, "Rate limit").clean_text


def test_the_pages_are_mounted_outside_the_admin_too(admin_client, queue):
    queue.enqueue(jobs.add, 1, 1, concurrency_limit=1, limit_key="mounted")
    response = admin_client.get(f"{MOUNT}-/limits/")
    assert response.status_code == 302 and response["Location"] == f"{MOUNT}-/limits/default/"
    page = parse(admin_client.get(f"{MOUNT}-/limits/default/"))
    assert page.one("tr", data_limit="mounted").one("a").get("href") == (
        f"{MOUNT}-/limits/default/key/mounted/")
    assert admin_client.get("/admin/django_jobqueue/limit/").status_code == 302


def test_a_limit_key_that_is_no_text_is_reported_not_a_500(admin_client, queue, connection):
    queue.enqueue(jobs.add, 1, 1, concurrency_limit=1, limit_key="fine")
    connection.hset(keys.limits(), b"\xff\xfe", "1;")
    response = admin_client.get(LIMITS)
    assert response.status_code == 200
    text = response.content.decode()
    assert "fine" in text and "\ufffd\ufffd" in text  # the other keys still show
    assert admin_client.get(f"{LIMITS}key/fine/").status_code == 200
