"""Helpers of the browser tests (tests/e2e/test_admin_browser.py): Debian's Chromium driven by
Selenium, and the tests' Django project run as subprocesses (``migrate``, ``runserver``,
``runworker``) against the harness's Redis.

The browser is Debian's ``chromium`` package (/usr/bin/chromium) with the ``chromium-driver``
package's /usr/bin/chromedriver; the driver's path is given to Selenium explicitly, so Selenium
Manager never runs and nothing is downloaded. ``JOBQUEUE_CHROMIUM`` / ``JOBQUEUE_CHROMEDRIVER``
override the two paths.

Without them the browser tests skip with the reason, except in CI (``CI=true``) or with
``JOBQUEUE_REQUIRE_BROWSER=1``, where they fail: CI must never go green by skipping them
(``.ci/run`` installs both packages when they are missing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.harness import free_port, wait_until

try:  # imported lazily so that a machine without selenium skips (or, in CI, fails) cleanly
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - reported by require_browser()
    webdriver = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[2]
SETTINGS = "tests.e2e.settings"  # tests.django.settings with a periodic job
CHROMIUM = os.environ.get("JOBQUEUE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("JOBQUEUE_CHROMEDRIVER", "/usr/bin/chromedriver")
PASSWORD = "browser-test-password"

#: Seconds an explicit wait in the browser may take (page loads on a busy 2-core machine).
WAIT = 20.0


# --------------------------------------------------------------------------- skip or fail


def browser_required() -> bool:
    """True in CI (``CI=true``) or with ``JOBQUEUE_REQUIRE_BROWSER=1``: no skipping then."""
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return ci or os.environ.get("JOBQUEUE_REQUIRE_BROWSER", "").strip() == "1"


def missing_browser() -> str:
    """What the browser tests lack on this machine ("" when nothing)."""
    problems = []
    if webdriver is None:
        problems.append("the selenium package is not installed (it is in the `test` extra)")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            problems.append(f"{path} is missing (apt-get install {package})")
    return "; ".join(problems)


def require_browser() -> None:
    """Skip the test when the browser is missing; fail instead when it is required. With
    ``JOBQUEUE_SKIP_BROWSER=1`` (tox's redis62 env: the browser drives the same pages the
    test client checks there, and the other envs run it) the browser tests skip."""
    if os.environ.get("JOBQUEUE_SKIP_BROWSER", "").strip() == "1":
        pytest.skip("browser tests are left to the other tox envs (JOBQUEUE_SKIP_BROWSER=1)")
    problem = missing_browser()
    if not problem:
        return
    message = f"browser test needs Debian's Chromium, ChromeDriver and selenium: {problem}"
    if browser_required():
        pytest.fail(f"{message} (CI=true or JOBQUEUE_REQUIRE_BROWSER=1, so this fails instead "
                    "of skipping; .ci/run installs them)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- the Django site


class DjangoSite:
    """The tests' Django project (``tests.django.settings``) in subprocesses: a file SQLite
    database shared by ``migrate``, ``shell``, ``runserver`` and ``runworker``."""

    def __init__(self, workdir: Path, redis_url: str) -> None:
        self.workdir = workdir
        self.redis_url = redis_url
        self.server: subprocess.Popen | None = None
        self.server_log = workdir / "runserver.log"
        self.base = ""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DJANGO_", "JOBQUEUE_TEST_"))}
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            JOBQUEUE_URL=redis_url,
            JOBQUEUE_TEST_SQLITE=str(workdir / "db.sqlite3"),
            JOBQUEUE_TEST_DEBUG="1",  # runserver serves the admin's static files
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
        )
        self.env = env

    def django(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """``python -m django ARGS`` from the repository root; must exit 0."""
        try:
            result = subprocess.run([sys.executable, "-m", "django", *args], cwd=REPO,
                                    env=self.env, capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"`django {' '.join(args)}` did not exit within {timeout}s:\n"
                                 f"{exc.stdout}\n{exc.stderr}") from None
        assert result.returncode == 0, (
            f"`django {' '.join(args)}` exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def migrate(self) -> None:
        self.django("migrate", "--noinput")

    def shell(self, code: str) -> str:
        return self.django("shell", "-c", code).stdout

    def create_staff_user(self, username: str, permissions: tuple[str, ...] = ()) -> None:
        """A staff user (never a superuser) with these django_jobqueue permissions (codenames);
        fails if one of them does not exist (i.e. ``migrate`` did not create it)."""
        self.shell(
            "from django.contrib.auth.models import Permission, User\n"
            f"user = User.objects.create_user({username!r}, password={PASSWORD!r},"
            " is_staff=True, is_superuser=False)\n"
            f"codenames = {list(permissions)!r}\n"
            "perms = list(Permission.objects.filter(content_type__app_label='django_jobqueue',"
            " codename__in=codenames))\n"
            "assert len(perms) == len(codenames), ('permissions missing', codenames, perms)\n"
            "user.user_permissions.set(perms)\n"
        )

    def enqueue(self, queue: str, func: str, *args: Any) -> str:
        """Enqueue ``func(*args)`` on ``queue`` as the project does (``get_queue``, its
        signing key); returns the job's id."""
        out = self.shell(
            "from django_jobqueue import get_queue\n"
            f"job = get_queue({queue!r}).enqueue({func!r}, *{args!r})\n"
            "print('job-id:', job.id)\n")
        return next(line.split()[1] for line in out.splitlines()
                    if line.startswith("job-id: "))

    def runworker_burst(self, *queues: str, timeout: float = 60) -> str:
        """``runworker QUEUES --burst``; waits for it to exit 0; returns its log (stderr)."""
        return self.django("runworker", *queues, "--burst", timeout=timeout).stderr

    @contextmanager
    def worker(self, *args: str) -> Iterator[subprocess.Popen]:
        """A long-running ``runworker ARGS`` for the ``with`` block; SIGTERMed (warm shutdown)
        at its end, killed if it does not exit within 30 s."""
        log = self.workdir / f"runworker-{len(list(self.workdir.glob('runworker-*')))}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "django", "runworker", *args],
                                       cwd=REPO, env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
                raise AssertionError(f"runworker ignored SIGTERM:\n{log.read_text()}") from None

    def start_server(self) -> str:
        port = free_port()
        with open(self.server_log, "wb") as out:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}",
                 "--noreload"],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert self.server is not None
            assert self.server.poll() is None, f"runserver exited:\n{self.log()}"
            return http_status(self.base + "/admin/login/") == 200

        wait_until(up, timeout=60, interval=0.1, message=f"runserver did not answer:\n"
                   f"{self.log()}")
        return self.base

    def log(self, since: int = 0) -> str:
        """The server's log, from byte ``since`` on (see ``log_size``)."""
        if not self.server_log.exists():
            return ""
        return self.server_log.read_bytes()[since:].decode(errors="replace")

    def log_size(self) -> int:
        return self.server_log.stat().st_size if self.server_log.exists() else 0

    def server_errors(self, since: int = 0) -> list[str]:
        """Lines of the server's log (from byte ``since`` on) about a 5xx answer (a 403's
        PermissionDenied is logged with a traceback too: that is no error)."""
        return [line for line in self.log(since).splitlines()
                if re.search(r'" 5\d\d ', line) or "Internal Server Error" in line]

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
        if self.server is not None:
            self.server.wait(10)


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_status(url: str, cookies: dict[str, str] | None = None, post: bool = False) -> int:
    """Status of a GET, or of a POST with the CSRF token of the cookies (redirects not
    followed), with these cookies; 0 if nothing answered."""
    cookies = cookies or {}
    data = None
    if post:
        data = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": cookies.get("csrftoken", "")}).encode()
    request = urllib.request.Request(url, data=data)
    if cookies:
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


# --------------------------------------------------------------------------- the browser


def chromium_options(profile_dir: str) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        # the machine's network is closed: no background connections, no component updates
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        f"--user-data-dir={profile_dir}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@contextmanager
def chromium(screenshot: Path | None = None) -> Iterator[Browser]:
    """A headless Chromium (a new empty profile); quit at the end, after an optional
    screenshot of the last page."""
    require_browser()
    profile = tempfile.mkdtemp(prefix="jobqueue-chromium-")
    driver = webdriver.Chrome(options=chromium_options(profile),
                              service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(WAIT * 2)
        yield Browser(driver)
    finally:
        try:
            if screenshot is not None:
                driver.save_screenshot(str(screenshot))
        except WebDriverException:
            pass
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def served_site(directory: Path, redis_server: Any, users: dict[str, tuple[str, ...]]
                ) -> Iterator[DjangoSite]:
    """The tests' project migrated in ``directory``, with these staff users (name ->
    permissions), served by ``runserver`` until the end of the block."""
    require_browser()
    if not redis_server.is_running:  # a fault test elsewhere left it down
        redis_server.start()
    site = DjangoSite(directory, redis_server.url)
    site.migrate()
    for name, permissions in users.items():
        site.create_staff_user(name, permissions)
    try:
        site.start_server()
        yield site
    finally:
        site.stop()


@contextmanager
def checked_browser(site: DjangoSite, redis_url: str, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium on the site (empty Redis: ``redis_url`` flushes it). At the
    end: no 5xx answer in the server's log, no JS error in the console; the last page is
    kept as ``last-page.png`` in ``tmp_path``."""
    assert redis_url == site.redis_url
    log_start = site.log_size()
    with chromium(screenshot=tmp_path / "last-page.png") as browser:
        browser.base = site.base
        yield browser
        errors = browser.console_errors()
    assert not site.server_errors(log_start), "\n".join(site.server_errors(log_start))
    assert not errors, errors


class Browser:
    """A thin layer over a Selenium driver: explicit waits only (no sleeps)."""

    def __init__(self, driver: Any, base: str = "") -> None:
        self.driver = driver
        self.base = base

    # -- navigation
    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    @property
    def path(self) -> str:
        url = self.driver.current_url
        return url[len(self.base):] if url.startswith(self.base) else url

    def wait(self, condition: Callable[[Any], Any], message: str, timeout: float = WAIT) -> Any:
        """Wait for ``condition(driver)`` to be truthy (a page reloaded by the auto-refresh
        under a lookup is retried)."""
        return WebDriverWait(
            self.driver, timeout, poll_frequency=0.05,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(condition, message=f"{message} (at {self.driver.current_url})")

    def wait_for_path(self, predicate: Callable[[str], bool], message: str) -> str:
        return self.wait(lambda d: predicate(self.path) and self.path, message)

    def find(self, css: str, timeout: float = WAIT) -> WebElement:
        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css),
                         f"no element {css!r}", timeout)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def exists(self, css: str) -> bool:
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str:
        """The text of the element ``css`` (waits for it)."""
        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css).text.strip() or " ",
                         f"no element {css!r}").strip()

    def click(self, css: str) -> None:
        """Click the element ``css`` (found afresh until the click goes through)."""
        def clicked(d: Any) -> bool:
            d.find_element(By.CSS_SELECTOR, css).click()
            return True

        self.wait(clicked, f"could not click {css!r}")

    def select(self, css: str, value: str) -> None:
        """Choose the option ``value`` of the <select> ``css``."""
        def chosen(d: Any) -> bool:
            Select(d.find_element(By.CSS_SELECTOR, css)).select_by_value(value)
            return True

        self.wait(chosen, f"could not choose {value!r} in {css!r}")

    def click_and_wait_for_new_page(self, css: str) -> None:
        """Click ``css`` (a link or a submit button) and wait until the next page has loaded."""
        old = self.find("html")
        self.click(css)

        def replaced(d: Any) -> bool:
            try:
                old.tag_name  # noqa: B018 - raises once the old page is gone
                return False
            except StaleElementReferenceException:
                pass
            except WebDriverException as exc:  # Chromium, mid-navigation: the same, worded
                if "does not belong to the document" not in str(exc):  # differently
                    raise
            return d.execute_script("return document.readyState") == "complete"

        self.wait(replaced, f"clicking {css!r} loaded no new page")

    # -- admin
    def login(self, username: str, password: str = PASSWORD, next_path: str = "") -> None:
        self.open("/admin/login/" + (f"?next={next_path}" if next_path else ""))
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click_and_wait_for_new_page("#login-form [type=submit]")
        self.wait_for_path(lambda p: not p.startswith("/admin/login/"),
                           f"{username} could not log in")

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}

    def status_of(self, path: str, post: bool = False) -> int:
        """HTTP status of GET (or POST) ``path`` with this browser's cookies (its session)."""
        return http_status(self.base + path, self.cookies(), post=post)

    def messages(self, level: str = "") -> list[str]:
        """The texts of the page's messages (of this level only: success, error, ...)."""
        css = f"ul.messagelist li.{level}" if level else "ul.messagelist li"
        return [li.text.strip() for li in self.find_all(css)]

    def console_errors(self) -> list[str]:
        """Severe entries of the console since the last call: JS errors, and failed loads of
        static files or scripts' requests (a page's own 403/404 answer is the test's
        business, and the admin has no favicon)."""
        errors = []
        for entry in self.driver.get_log("browser"):
            message = entry.get("message", "")
            if entry.get("level") != "SEVERE" or "favicon.ico" in message:
                continue
            if entry.get("source") == "network" and "/static/" not in message:
                continue
            errors.append(message)
        return errors

    def assert_no_server_error(self) -> None:
        source = self.driver.page_source
        title = self.driver.title
        # Django's own error pages (the page of a failed job shows its traceback: no sign)
        for sign in ("Server Error (500)", 'id="requestinfo"', "DEBUG = True</code>",
                     "TemplateSyntaxError at /", "NoReverseMatch at /"):
            assert sign not in source, f"{self.driver.current_url}: {title!r} shows {sign!r}"
