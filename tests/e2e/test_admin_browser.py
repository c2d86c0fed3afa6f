"""The admin pages in a real browser (Debian's headless Chromium, driven by Selenium).

The tests' Django project (``tests.django.settings``, a file SQLite database, the harness's
Redis) runs as subprocesses: ``migrate``, a ``shell`` creating the users, ``runserver`` (DEBUG,
so it serves the admin's static files) and ``runworker --burst`` when a test needs jobs run.
Skipped without Chromium/ChromeDriver/selenium, except in CI (``CI=true``) or with
``JOBQUEUE_REQUIRE_BROWSER=1``, where that fails (see tests/e2e/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_jobqueue import Job, JobStatus
from tests.e2e.browser import Browser, DjangoSite, checked_browser, served_site

DASHBOARD = "/admin/django_jobqueue/queue/"
QUEUES = ("default", "high", "low")
STATES = ("queued", "started", "scheduled", "deferred", "finished", "failed", "canceled")
OPERATOR = "operator"  # staff with view_queue + change_queue (not a superuser)
VISITOR = "visitor"  # staff without any django_jobqueue permission
FAIL_FIRST = "tests.e2e.browser_jobs.fail_first_time"  # fails once, then succeeds


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[DjangoSite]:
    """The tests' project migrated, with its users, served by ``runserver`` for this module."""
    with served_site(tmp_path_factory.mktemp("admin_browser"), redis_server,
                     {OPERATOR: ("view_queue", "change_queue"), VISITOR: ()}) as served:
        yield served


@pytest.fixture
def browser(site: DjangoSite, redis_url: str, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium on the site (empty Redis: ``redis_url`` flushes it). After the
    test: no 5xx answer in the server's log, no JS error in the console; the last page is
    kept as ``last-page.png`` in the test's tmp_path."""
    with checked_browser(site, redis_url, tmp_path) as checked:
        yield checked


def counts(browser: Browser, queue: str) -> dict[str, int]:
    """The dashboard's counts of one queue, by state."""
    row = f'#jobqueue-dashboard tr[data-queue="{queue}"]'
    return {state: int(browser.text(f'{row} td[data-state="{state}"]')) for state in STATES}


def open_dashboard(browser: Browser) -> None:
    browser.open(DASHBOARD)
    browser.find("#jobqueue-dashboard")
    browser.assert_no_server_error()


def test_requeue_a_failed_job_from_the_admin(site: DjangoSite, browser: Browser,
                                             connection: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran-once"
    job = Job.fetch(site.enqueue("default", FAIL_FIRST, str(marker)), connection=connection)
    site.runworker_burst("default")
    assert job.get_status() == JobStatus.FAILED and marker.exists()

    browser.login(OPERATOR, next_path=DASHBOARD)
    assert browser.path == DASHBOARD
    open_dashboard(browser)
    before = counts(browser, "default")
    assert (before["failed"], before["finished"], before["queued"]) == (1, 0, 0), before

    # the failed count links to the failed tab, which lists the job
    browser.click_and_wait_for_new_page(
        '#jobqueue-dashboard tr[data-queue="default"] td[data-state="failed"] a')
    assert browser.path.split("?")[0] == f"{DASHBOARD}default/failed/"
    browser.assert_no_server_error()
    row = f'#jobqueue-jobs tr[data-job-id="{job.id}"]'
    browser.find(row)
    assert len(browser.find_all("#jobqueue-jobs tr[data-job-id]")) == 1

    # its page, then its requeue button
    browser.click_and_wait_for_new_page(f"{row} a.job-link")
    assert browser.path == f"{DASHBOARD}default/job/{job.id}/"
    browser.assert_no_server_error()
    assert browser.text("#jobqueue-job-status").lower() == "failed"
    browser.click_and_wait_for_new_page('button[data-action="requeue"]')
    browser.assert_no_server_error()
    messages = browser.messages("success")
    assert any("requeued" in m.lower() for m in messages), (browser.path, browser.messages())
    assert job.get_status() == JobStatus.QUEUED

    # the job runs again (and succeeds this time); the dashboard shows it
    site.runworker_burst("default")
    assert job.get_status() == JobStatus.FINISHED
    open_dashboard(browser)
    after = counts(browser, "default")
    assert (after["failed"], after["finished"], after["queued"]) == (0, 1, 0), after


def test_bulk_requeue_of_selected_jobs_then_requeue_all_failed(
        site: DjangoSite, browser: Browser, connection: Any, tmp_path: Path) -> None:
    ids = [site.enqueue("default", FAIL_FIRST, str(tmp_path / f"ran-once-{i}"))
           for i in range(3)]
    site.runworker_burst("default")
    failed_tab = f"{DASHBOARD}default/failed/"
    browser.login(OPERATOR, next_path=failed_tab)
    assert browser.path == failed_tab
    browser.find("#jobqueue-jobs")
    browser.assert_no_server_error()
    listed = {tr.get_attribute("data-job-id")
              for tr in browser.find_all("#jobqueue-jobs tr[data-job-id]")}
    assert listed == set(ids)

    # two of them, ticked and requeued with the bulk form
    for job_id in ids[:2]:
        browser.click(f'#jobqueue-jobs tr[data-job-id="{job_id}"] input[name="_selected_job"]')
    browser.select('#jobqueue-bulk select[name="action"]', "requeue")
    browser.click_and_wait_for_new_page('#jobqueue-bulk button[type="submit"][name="index"]')
    browser.assert_no_server_error()
    assert "2 jobs requeued." in browser.messages("success"), (browser.path,
                                                                browser.messages())
    statuses = [Job.fetch(job_id, connection=connection).get_status() for job_id in ids]
    assert statuses == [JobStatus.QUEUED, JobStatus.QUEUED, JobStatus.FAILED]

    # the last one through the queue's "requeue failed" link and its confirmation page
    browser.open(failed_tab)
    assert [tr.get_attribute("data-job-id")
            for tr in browser.find_all("#jobqueue-jobs tr[data-job-id]")] == [ids[2]]
    browser.click_and_wait_for_new_page('a[data-queue-action="requeue-failed"]')
    assert browser.path == f"{DASHBOARD}default/-/requeue-failed/"
    browser.assert_no_server_error()
    browser.click_and_wait_for_new_page("#jobqueue-confirm")
    browser.assert_no_server_error()
    assert "1 job requeued." in browser.messages("success"), (browser.path,
                                                               browser.messages())

    site.runworker_burst("default")
    open_dashboard(browser)
    after = counts(browser, "default")
    assert (after["failed"], after["finished"], after["queued"]) == (0, 3, 0), after


def test_auto_refresh_shows_a_live_worker_and_its_work(site: DjangoSite,
                                                        browser: Browser) -> None:
    browser.login(OPERATOR, next_path=DASHBOARD)
    open_dashboard(browser)
    if not browser.find("#jobqueue-autorefresh").is_selected():
        browser.click("#jobqueue-autorefresh")
    with site.worker("default", "--name", "browser-worker") as worker:
        job_id = site.enqueue("default", "operator.add", 2, 3)
        # no reload by the test: the page reloads itself (every 5 s) until it shows both
        def shows_it(_: Any) -> bool:
            assert worker.poll() is None, "runworker exited"
            row = '#jobqueue-dashboard tr[data-queue="default"]'
            return (browser.text(f'{row} td[data-col="workers"]') == "1"
                    and browser.text(f'{row} td[data-state="finished"]') == "1")

        browser.wait(shows_it, "the auto-refreshed dashboard never showed the worker and "
                     "its finished job", timeout=30)
        assert browser.find("#jobqueue-autorefresh").is_selected()  # kept across reloads
        browser.assert_no_server_error()

        browser.open("/admin/django_jobqueue/worker/")
        browser.find('#jobqueue-workers tr[data-worker="browser-worker"]')
        browser.assert_no_server_error()
        browser.open(f"{DASHBOARD}default/finished/")
        browser.find(f'#jobqueue-jobs tr[data-job-id="{job_id}"]')
        # switch it off again (the setting lives in the browser's localStorage)
        browser.click("#jobqueue-autorefresh")
        assert not browser.find("#jobqueue-autorefresh").is_selected()
    assert worker.returncode == 0


def test_the_workers_page_shows_a_pool_its_children_and_their_jobs(
        site: DjangoSite, browser: Browser, tmp_path: Path) -> None:
    release = tmp_path / "release"
    browser.login(OPERATOR)
    with site.worker("default", "--name", "browser-pool", "--processes", "2",
                     "--threads", "2") as worker:
        job_ids = [site.enqueue("default", "tests.e2e.browser_jobs.wait_for", str(release))
                   for _ in range(2)]

        def shows_both_jobs(_: Any) -> bool:
            assert worker.poll() is None, "runworker exited"
            browser.open("/admin/django_jobqueue/worker/")
            shown = " ".join(e.text for e in browser.find_all(
                '#jobqueue-workers tr[data-pool="browser-pool"] td[data-col="jobs"]'))
            return all(job_id in shown for job_id in job_ids)

        browser.wait(shows_both_jobs, "the Workers page never showed the running jobs",
                     timeout=30)
        rows = browser.find_all("#jobqueue-workers tbody tr")
        names = [row.get_attribute("data-worker") for row in rows]
        assert names[:3] == ["browser-pool", "browser-pool.c1", "browser-pool.c2"], names
        assert browser.text('tr[data-worker="browser-pool"] [data-col="shape"]') == "pool 2 × 2"
        browser.driver.save_screenshot(str(tmp_path / "workers-pool.png"))
        browser.click_and_wait_for_new_page(
            f'#jobqueue-workers td[data-col="jobs"] a[href*="{job_ids[0]}"]')
        assert job_ids[0] in browser.driver.current_url
        browser.assert_no_server_error()
        release.write_text("go")
    assert worker.returncode == 0


def test_the_dashboard_looks_native_and_lists_every_queue(site: DjangoSite,
                                                          browser: Browser) -> None:
    browser.login(OPERATOR)
    # the admin's index links to the dashboard
    browser.open("/admin/")
    browser.find(f'a[href="{DASHBOARD}"]')

    open_dashboard(browser)
    assert browser.find("#header").is_displayed()
    assert browser.text("#site-name")
    assert browser.exists(".breadcrumbs")
    # the admin's own stylesheet is served and applied (runserver with DEBUG)
    header_color = browser.driver.execute_script(
        "return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header_color not in ("", "rgba(0, 0, 0, 0)", "transparent"), header_color
    # the breadcrumbs are the bar the admin styles (a div on Django 5.2, a list on 6)
    crumbs_color = browser.driver.execute_script(
        "return getComputedStyle(document.querySelector('.breadcrumbs')).backgroundColor")
    assert crumbs_color not in ("", "rgba(0, 0, 0, 0)", "transparent"), crumbs_color
    assert "Job queue" in browser.text(".breadcrumbs")
    assert browser.exists("#jobqueue-autorefresh")
    listed = [tr.get_attribute("data-queue")
              for tr in browser.find_all("#jobqueue-dashboard tr[data-queue]")]
    assert sorted(listed) == sorted(QUEUES)
    for queue in QUEUES:
        assert counts(browser, queue) == dict.fromkeys(STATES, 0)
        assert browser.text(f'#jobqueue-dashboard tr[data-queue="{queue}"] '
                            'td[data-col="workers"]') == "0"

    # the same pages outside the admin (include("django_jobqueue.urls") at /jobqueue/)
    browser.open("/jobqueue/")
    browser.find('#jobqueue-dashboard tr[data-queue="default"]')
    browser.assert_no_server_error()


def test_staff_without_the_permissions_gets_403(site: DjangoSite, browser: Browser) -> None:
    job_id = site.enqueue("default", "operator.add", 1, 2)
    browser.login(VISITOR, next_path="/admin/")
    browser.open(DASHBOARD)
    browser.assert_no_server_error()
    assert not browser.exists("#jobqueue-dashboard")
    assert "permission" in browser.text("#jobqueue-forbidden")  # the admin-styled 403 page
    for path in (DASHBOARD, f"{DASHBOARD}default/", f"{DASHBOARD}default/failed/",
                 f"{DASHBOARD}default/job/{job_id}/", "/admin/django_jobqueue/worker/",
                 "/jobqueue/"):
        assert browser.status_of(path) == 403, path
    # and so is every action (a POST with the session's CSRF token: refused for the
    # permission, not for the token)
    log_start = site.log_size()
    for path in (f"{DASHBOARD}default/job/{job_id}/cancel/", f"{DASHBOARD}default/",
                 f"{DASHBOARD}default/-/empty/", f"{DASHBOARD}default/-/requeue-failed/"):
        assert browser.status_of(path, post=True) == 403, f"POST {path}"
    log = site.log(log_start)
    assert "CSRF" not in log and log.count("Forbidden: ") == 4, log


def test_anonymous_is_sent_to_the_login_page(site: DjangoSite, browser: Browser) -> None:
    browser.open(DASHBOARD)
    browser.find("#login-form")
    assert browser.path.startswith("/admin/login/?next=")
    assert browser.status_of(DASHBOARD) == 302


def test_the_periodic_jobs_page_runs_disables_and_enables(site: DjangoSite, browser: Browser,
                                                          tmp_path: Path) -> None:
    browser.login(OPERATOR)
    browser.open("/admin/django_jobqueue/periodic/")
    row = 'tr[data-periodic="nightly-digest"]'
    assert "not scheduled yet" in browser.text(f'{row} [data-col="next"]')
    site.runworker_burst("low")  # a worker with the definition schedules it
    browser.open("/admin/django_jobqueue/periodic/")
    assert browser.text(f'{row} [data-col="schedule"]').startswith("At 03:00")
    assert "not scheduled" not in browser.text(f'{row} [data-col="next"]')
    browser.click_and_wait_for_new_page(f'{row} button[data-action="run"]')
    assert any("enqueued" in m for m in browser.messages())
    assert browser.text(f'{row} [data-col="last-status"]') == "queued"
    browser.click_and_wait_for_new_page(f'{row} button[data-action="disable"]')
    assert browser.text(f'{row} [data-col="enabled"]') == "disabled"
    browser.driver.save_screenshot(str(tmp_path / "periodic.png"))
    browser.click_and_wait_for_new_page(f'{row} button[data-action="enable"]')
    assert browser.text(f'{row} [data-col="enabled"]') == "yes"
    browser.click_and_wait_for_new_page(f'{row} [data-col="last"] a')
    assert "/low/job/" in browser.driver.current_url
    browser.assert_no_server_error()


def test_pausing_a_queue_from_its_page_and_the_dashboard_mark(site: DjangoSite,
                                                              browser: Browser) -> None:
    browser.login(OPERATOR)
    browser.open(f"{DASHBOARD}high/")
    assert not browser.exists("#jobqueue-paused")
    browser.click_and_wait_for_new_page('button[data-queue-switch="pause"]')
    assert "paused" in browser.text("#jobqueue-paused")
    assert browser.exists('button[data-queue-switch="resume"]')
    site.enqueue("high", "tests.e2e.browser_jobs.wait_for", "/nonexistent")
    site.runworker_burst("high")  # a paused queue counts as empty: the burst ends at once
    browser.open(DASHBOARD)
    assert browser.exists('#jobqueue-dashboard tr[data-queue="high"] [data-paused]')
    assert counts(browser, "high")["queued"] == 1
    browser.open(f"{DASHBOARD}high/")
    browser.click_and_wait_for_new_page('button[data-queue-switch="resume"]')
    assert not browser.exists("#jobqueue-paused")
    browser.open(DASHBOARD)
    assert not browser.exists("[data-paused]")
    browser.assert_no_server_error()
