"""Smoke test of example_project/ end to end, as a user runs it but without run.py's venv step:
this interpreter runs ``manage.py migrate``, ``runworker`` and ``runserver`` as subprocesses
(SQLite in a temporary folder, REDIS_URL at the harness's Redis); the test starts jobs from the
page as a browser does (CSRF cookie + token) and polls the status JSON the page polls."""

from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest

from tests.harness import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "example_project"


def _run_py_worker() -> tuple[str, ...]:
    """The worker command example_project/run.py starts (its WORKER), read from the file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_run", PROJECT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WORKER


EXAMPLE_WORKER = _run_py_worker()


class Browser:
    """A cookie-keeping HTTP client for the development server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get_json(self, path: str) -> dict:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, bytes]:
        token = next(c.value for c in self.cookies if c.name == "csrftoken")
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=data,
                                         headers={"X-CSRFToken": token})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def _env(data_dir: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        EXAMPLE_DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    return env


def _log(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Browser]:
    """The example project migrated and running (worker + web server) for this module's tests;
    its processes are killed at the end whatever happens."""
    if not redis_server.is_running:  # a fault test elsewhere left it down
        redis_server.start()
    tmp_path = tmp_path_factory.mktemp("example_project")
    env = _env(tmp_path / "data", redis_server.url)
    manage = [sys.executable, str(PROJECT / "manage.py")]
    migrate = subprocess.run([*manage, "migrate", "--noinput"], cwd=PROJECT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert (tmp_path / "data" / "db.sqlite3").exists()

    port = free_port()
    processes: list[tuple[subprocess.Popen, Path]] = []
    try:
        for name, args in (("worker", list(EXAMPLE_WORKER)),
                           ("web", ["runserver", "--noreload", f"127.0.0.1:{port}"])):
            log = tmp_path / f"{name}.log"
            with open(log, "wb") as out:
                processes.append((subprocess.Popen([*manage, *args], cwd=PROJECT, env=env,
                                                   stdout=out, stderr=subprocess.STDOUT), log))
        browser = Browser(f"http://127.0.0.1:{port}")

        def page_up() -> bool:
            for process, log in processes:
                assert process.poll() is None, f"{log.name} exited:\n{_log(log)}"
            try:
                return browser.get("/")[0] == 200
            except OSError:
                return False

        wait_until(page_up, timeout=60, interval=0.2, message="the web server did not answer")
        yield browser
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def _finish(browser: Browser, status_url: str) -> tuple[dict, list[int]]:
    """Poll the status JSON as the page does; the last answer and every progress seen."""
    seen: list[int] = []

    def done() -> dict | None:
        data = browser.get_json(status_url)
        seen.append(data["progress"])
        return data if data["status"] in ("finished", "failed") else None

    return wait_until(done, timeout=60, interval=0.1, message="the job did not end"), seen


def test_start_a_job_from_the_page_and_watch_it_finish(site: Browser) -> None:
    status, page = site.get("/")
    assert status == 200 and b"Start job" in page
    assert any(c.name == "csrftoken" for c in site.cookies)

    status, body = site.post("/jobs/", {"task": "count_to", "n": "5"})
    assert status == 202, body
    started = json.loads(body)
    assert started["status_url"] == f"/jobs/{started['id']}/status.json"

    data, seen = _finish(site, started["status_url"])
    assert data == {"id": started["id"], "status": "finished", "progress": 100,
                    "result": {"counted": 5, "sum": 15}, "error": None}
    assert seen == sorted(seen)  # progress only moves forward

    status, body = site.post("/jobs/", {"task": "fail_on_purpose"})
    assert status == 202, body
    data, _ = _finish(site, json.loads(body)["status_url"])
    assert data["status"] == "failed" and data["progress"] == 50
    assert data["error"] == "RuntimeError: this job fails on purpose"

    assert site.get("/jobs/no-such-job/status.json")[0] == 404
    assert site.get("/jobs/not.a.valid.id/status.json")[0] == 404
    assert site.post("/jobs/", {"task": "nope"})[0] == 400


@pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks needs Django 6.0+")
def test_a_django_task_from_the_page(site: Browser) -> None:
    assert b"django.tasks: multiply(6, 7)" in site.get("/")[1]
    status, body = site.post("/jobs/", {"task": "multiply"})
    assert status == 202, body
    started = json.loads(body)
    assert started["status_url"] == f"/tasks/{started['id']}/status.json"
    data, _ = _finish(site, started["status_url"])
    assert data == {"id": started["id"], "status": "finished", "progress": 100, "result": 42,
                    "error": None}
    assert site.get("/tasks/no-such-task/status.json")[0] == 404


def test_a_post_without_the_csrf_token_is_refused(site: Browser) -> None:
    request = urllib.request.Request(site.base + "/jobs/", data=b"task=count_to")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_run_py_help() -> None:
    result = subprocess.run([sys.executable, str(PROJECT / "run.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout and "REDIS_URL" in result.stdout
