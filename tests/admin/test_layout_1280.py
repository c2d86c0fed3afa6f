"""The admin's tables at 1280 px with the admin's navigation sidebar open, in a real headless
Chromium (tests/admin/browser_site.py): a queue's tabs with long ids, names and errors, and
the workers page with a pool and long names, never wider than the window, nor their tables
wider than their boxes; the job page's wait and run rows. Screenshots, light and dark, in
/tmp/shots/."""

from __future__ import annotations

import time

import pytest

from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.browser_site import OPERATOR, browser, screenshot, site
from tests.admin.helpers import ADMIN, WORKERS, work

__all__ = ["browser", "site"]  # fixtures

pytestmark = pytest.mark.timeout(180)

WIDTH = 1280
LONG_ID = "report-" + "0123456789abcdef" * 7  # 119 characters, no break but the first "-"
LONG_FUNC = "myproject.reports.monthly.generation.tasks.render_the_monthly_report_for_account"
OVERFLOW = """
const page = document.documentElement.scrollWidth - window.innerWidth;
const boxes = Array.from(document.querySelectorAll('.results'))
  .map(box => box.scrollWidth - box.clientWidth);
return [page, boxes];
"""


def sidebar_open(browser) -> bool:
    return browser.driver.execute_script(
        "const s = document.getElementById('nav-sidebar');"
        "return !!s && s.getBoundingClientRect().width > 200"
        " && document.querySelector('.main').classList.contains('shifted');")


def assert_fits(browser, what: str) -> None:
    """No horizontal scrolling: neither the page nor a table inside its box."""
    assert browser.driver.execute_script("return window.innerWidth") == WIDTH
    assert sidebar_open(browser), "the navigation sidebar is closed"
    page, boxes = browser.driver.execute_script(OVERFLOW)
    assert page <= 0, f"{what}: the page is {page} px wider than the window"
    assert all(extra <= 0 for extra in boxes), f"{what}: a table overflows its box by {boxes}"


def set_theme(browser, theme: str) -> None:
    browser.driver.execute_script("localStorage.setItem('theme', arguments[0])", theme)
    browser.driver.refresh()
    browser.wait(lambda d: d.execute_script(
        "return document.documentElement.dataset.theme") == theme, f"no {theme} theme")


def open_at_width(browser, path: str) -> None:
    browser.driver.set_window_size(WIDTH, 1000)
    browser.open(path)
    browser.find("#content-main")
    browser.assert_no_server_error()


def write_worker(connection, name: str, **record: object) -> None:
    """A worker's record as its heartbeat leaves it (tests/admin/test_pool_workers.py)."""
    now = time.time()
    fields = {"name": name, "last_heartbeat": f"{now:.6f}", "birth": f"{now - 3600:.6f}",
              "current_job": "", "successful_job_count": 12345, "failed_job_count": 67,
              "total_working_time": "1.5", **record}
    connection.hset(keys.worker(name), mapping={k: str(v) for k, v in fields.items()})
    connection.expire(keys.worker(name), 600)
    connection.zadd(keys.workers(), {name: now})


def crowded_queue(queue, connection) -> list:
    """Jobs whose cells are as wide as they get: long ids, function names, descriptions,
    progress, and errors without a space."""
    made = [queue.enqueue(jobs.report, 40, job_id=LONG_ID + "-a",
                          description="a description of sixty characters, about as long" * 2,
                          meta={"progress": 40}),
            queue.enqueue(jobs.fail, "x" * 190, job_id=LONG_ID + "-b"),
            queue.enqueue(jobs.add, 1, 2)]
    work(queue)
    waiting = queue.enqueue(jobs.add, 3, 4, job_id=LONG_ID + "-c", meta={"progress": 5},
                            description="waiting")
    connection.hset(keys.job(waiting.id), "func_name", LONG_FUNC)
    return [*made, waiting]


def test_a_queues_tabs_fit_at_1280_px_with_the_sidebar_open(browser, queue, connection):
    made = crowded_queue(queue, connection)
    browser.login(OPERATOR, next_path=f"{ADMIN}default/")
    for theme in ("light", "dark"):
        set_theme(browser, theme)
        for state in ("queued", "finished", "failed"):
            open_at_width(browser, f"{ADMIN}default/{state}/")
            assert_fits(browser, f"the {state} tab ({theme})")
            if state != "queued":
                screenshot(browser, f"layout-{state}-{theme}")
        open_at_width(browser, f"{ADMIN}default/finished/")
        link = browser.find(f'#jobqueue-jobs tr[data-job-id="{made[0].id}"] a.job-link')
        assert link.get_attribute("title") == made[0].id  # cut on screen, whole in its title
        assert browser.driver.execute_script(
            "return arguments[0].scrollWidth > arguments[0].clientWidth", link)


def test_the_workers_page_fits_at_1280_px_with_the_sidebar_open(browser, queue, connection):
    running = [queue.enqueue(jobs.add, n, n, job_id=f"{LONG_ID}-{n}") for n in range(3)]
    pool = "pool-" + "a1b2c3d4" * 8
    write_worker(connection, pool, kind="pool", hostname="ip-10-0-12-34.eu-west-1.compute."
                 "internal", pid=100, queues="default,high,low", state="busy", processes=4,
                 threads=8, children=f"{pool}.c1")
    write_worker(connection, f"{pool}.c1", kind="child", pool=pool, hostname="ip-10-0-12-34",
                 pid=201, queues="default,high,low", state="busy", threads=8,
                 current_jobs=",".join(job.id for job in running))
    write_worker(connection, "worker" + "9" * 150, hostname="h" * 120, pid=4242,
                 queues="default", state="busy", current_job=running[0].id)
    browser.login(OPERATOR, next_path=WORKERS)
    for theme in ("light", "dark"):
        open_at_width(browser, WORKERS)
        set_theme(browser, theme)
        browser.find(f'#jobqueue-workers tr[data-worker="{pool}.c1"]')
        assert_fits(browser, f"the workers page ({theme})")
        assert len(browser.find_all("#jobqueue-workers td[data-col=jobs] a")) == 4
        screenshot(browser, f"layout-workers-{theme}")
        assert_fits(browser, f"the workers page ({theme}), as high as its content")


def test_the_job_page_shows_its_wait_and_run(browser, queue):
    done = queue.enqueue(jobs.add, 1, 2)
    failed = queue.enqueue(jobs.fail, "context\n" * 30 + "the real reason")
    work(queue)
    browser.login(OPERATOR, next_path=f"{ADMIN}default/job/{done.id}/")
    for theme in ("light", "dark"):
        open_at_width(browser, f"{ADMIN}default/job/{done.id}/")
        set_theme(browser, theme)
        text = browser.text("#jobqueue-job")
        assert "Waited" in text and "Ran" in text and "p50 ≈" in text
        assert "tests.admin.jobs.add(1, 2)" in text
        assert_fits(browser, f"a job's page ({theme})")
        screenshot(browser, f"job-finished-{theme}")
        open_at_width(browser, f"{ADMIN}default/job/{failed.id}/")
        summary = browser.text("#jobqueue-job details summary")
        assert summary.startswith('File "') and "the real reason" in summary
        screenshot(browser, f"job-failed-{theme}")
