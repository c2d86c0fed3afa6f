"""Fixtures of the admin pages' browser tests (test_groups_page.py, test_limits_page.py):
the tests' Django project served by ``runserver`` for the module (tests/e2e/browser.py's
DjangoSite) and a fresh headless Chromium per test. The test puts its data in Redis itself
(the ``connection`` and ``queue`` fixtures: the same Redis, key prefix and signing key as
the server's).

Import both fixtures into the test module: ``from tests.admin.browser_site import browser,
site``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Browser, DjangoSite, checked_browser, served_site

OPERATOR = "operator"  # staff with view_queue + change_queue (not a superuser)
VIEWER = "viewer"  # staff with view_queue only
#: where the tests keep the screenshots they are asked for
SHOTS = Path("/tmp/shots")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[DjangoSite]:
    """The tests' project migrated, with its users, served by ``runserver`` for the module."""
    with served_site(tmp_path_factory.mktemp("admin_pages_browser"), redis_server,
                     {OPERATOR: ("view_queue", "change_queue"), VIEWER: ("view_queue",)}) as served:
        yield served


@pytest.fixture
def browser(site: DjangoSite, redis_url: str, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium on the site (an empty Redis: ``redis_url`` flushes it).
    After the test: no 5xx answer in the server's log and no JS error in the console."""
    with checked_browser(site, redis_url, tmp_path) as checked:
        yield checked


def screenshot(browser: Browser, name: str) -> Path:
    """The whole page (not only the window) at the window's width, as SHOTS/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver = browser.driver
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, min(int(height) + 140, 4000)))
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def not_found(browser: Browser, path: str) -> str:
    """Open ``path``: it must answer 404 with the admin's page saying why; returns why."""
    assert browser.status_of(path) == 404, path
    browser.open(path)
    browser.assert_no_server_error()
    return browser.text("#jobqueue-not-found")
