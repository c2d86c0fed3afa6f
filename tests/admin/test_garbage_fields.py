"""Garbage in any one field of a job hash, or of a worker record, never gives a 5xx on any
page, and a job page still shows every other field of its job.

For every field of ``fields.JOB_FIELDS`` (and ``fields.WORKER_FIELDS``), each garbage value
is written into that field of one job of each tab (or of one worker record), and every page
is read: the dashboard, each tab, each job's page, the workers page, stats.json, metrics, a
search by each job's id and the find/history redirect.

To stay under a minute, the jobs are made once (real jobs: enqueued, taken, worked,
canceled; ten of each tab, one per garbage value) and the server's keys saved with DUMP;
each test restores them (the autouse fixture empties Redis before it), so every field
starts from the same jobs, and the values sit side by side, each in its own jobs. A page
that lists several jobs (a tab, the dashboard) and fails is read again with one value at a
time, so that a failure names the field and the value. The admin's app sidebar is off
here: it shows no job, and it is a third of the rendering time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib import admin
from django.test.utils import override_settings

from django_jobqueue.engine import keys, scripts, steps
from django_jobqueue.engine.fields import JOB_FIELDS, WORKER_FIELDS
from tests.admin import jobs
from tests.admin.helpers import ADMIN, STATES, WORKERS, parse, work

pytestmark = pytest.mark.timeout(120)

#: value name -> the bytes written into the field
GARBAGE = {
    "-1e300": b"-1e300", "nan": b"nan", "inf": b"inf", "year-1": b"-62135596000",
    "huge": b"99999999999999", "slash": b"a/b", "script": b"</script>",
    "not-utf8": b"\xff\xfe", "empty": b"", "200kB": b"y" * 200_000,
}
OVERVIEW_PAGES = (ADMIN, WORKERS, f"{ADMIN}-/stats.json", f"{ADMIN}-/metrics")
SHARED_PAGES = (*OVERVIEW_PAGES, *(f"{ADMIN}default/{tab}/" for tab in STATES))
#: job page rows that show a field (or are read through it): they may change with it
ROWS_OF = {
    # a job without a description shows its call (function and arguments) there, and its
    # wait and run times are set against its function's (admin/jobtimes.py)
    "status": {"Status", "Result"}, "description": {"Description"},
    "func_name": {"Function", "Description", "Ran", "Its function's run time"},
    "exc_info": {"Traceback"}, "worker_name": {"Worker"}, "created_at": {"Created"},
    "enqueued_at": {"Enqueued", "Waited"}, "started_at": {"Started", "Waited", "Ran"},
    "ended_at": {"Ended", "Ran"},
    "timeout": {"Timeout (s)"}, "result_ttl": {"Result TTL (s)"},
    "failure_ttl": {"Failure TTL (s)"}, "ttl": {"TTL (s)"}, "priority": {"Priority"},
    # a scheduled job that has run before waits for its next attempt: the row's label
    "attempts": {"Attempts", "Scheduled for", "Next attempt due"},
    "retries_left": {"Retries left"}, "retry_max": {"Retry max"},
    "retry_intervals": {"Retry intervals (s)"}, "retry_backoff": {"Retry backoff"},
    "retry_max_interval": {"Retry max interval (s)"}, "retry_jitter": {"Retry jitter"},
    "retry_on": {"Retry on"}, "on_worker_lost": {"On worker lost"},
    "lost_count": {"Workers lost"}, "last_lost_at": {"Last worker lost at"},
    "last_lost_worker": {"Last lost worker"}, "dependency_ids": {"Dependency"},
    "unique_key": {"Unique key"}, "unique_for": {"Unique for (s)"},
    "periodic": {"Periodic job"}, "tick_at": {"Tick"},
    "canceled_reason": {"Canceled because"}, "chain_id": {"Chain"},
    # the serializer reads the call data, the meta and the results
    "serializer": {"Serializer", "Result", "Args", "Kwargs", "Meta", "Arguments",
                   "Description"},
    "data": {"Args", "Kwargs", "Arguments", "Description"}, "meta": {"Meta"},
}
#: west of UTC, so that year 1 (-62135596000) is year 0 here
TIME_ZONE = "America/Chicago"
#: rows that change with the clock
MOVING_ROWS = {"Expires in"}


@dataclass
class Population:
    #: (tab, value name) -> id of the job that gets that value
    jobs: dict[tuple[str, str], str]
    #: value name -> name of the worker whose record gets that value
    workers: dict[str, str]
    #: key -> (ms to live or 0, DUMP payload): the whole server after it was made
    saved: dict[bytes, tuple[int, bytes]]
    #: job id -> rows of its page, before any garbage
    pages: dict[str, dict[str, str]]


def _make_jobs(queue) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Ten jobs of each tab, and a live worker's record for each started one."""
    connection = queue.connection
    made: dict[str, list] = {tab: [] for tab in STATES}
    workers = {value: f"garbage-worker-{n}" for n, value in enumerate(GARBAGE)}
    for worker in workers.values():  # each takes one job, as a worker does
        made["started"].append(queue.enqueue(jobs.add, 5, 5, meta={"progress": 50}))
        taken = steps.take(connection, steps.Take(worker, 3600, ["default"]))
        assert taken is not None and taken.job_id == made["started"][-1].id
    for _ in GARBAGE:
        made["finished"].append(queue.enqueue(jobs.add, 1, 2, result_ttl=3600,
                                              description="adds"))
        made["failed"].append(queue.enqueue(jobs.fail, "boom"))
    work(queue)
    for _ in GARBAGE:
        made["canceled"].append(queue.enqueue(jobs.add, 3, 3))
        made["canceled"][-1].cancel()
        made["scheduled"].append(queue.enqueue_in(timedelta(hours=1), jobs.add, 4, 4))
        made["queued"].append(queue.enqueue(jobs.echo, "x", key="value"))
        made["deferred"].append(queue.enqueue(jobs.add, 6, 6, depends_on=made["queued"][-1]))
    for job, worker in zip(made["started"], workers.values(), strict=True):
        record = {"name": worker, "hostname": "host", "pid": "4242", "queues": "default",
                  "birth": "1700000000", "state": "busy", "current_job": job.id,
                  "successful_job_count": "1", "failed_job_count": "1",
                  "total_working_time": "0.5"}
        scripts.get("heartbeat")(connection, worker, 3600, 3600, job.id, "default", "1",
                                 *[x for kv in record.items() for x in kv])
    for tab, found in made.items():
        assert [job.get_status(refresh=True) for job in found] == [tab] * len(GARBAGE)
    return ({(tab, value): job.id for tab, found in made.items()
             for value, job in zip(GARBAGE, found, strict=True)}, workers)


def _job_rows(response) -> dict[str, str]:
    """label -> text of the rows of a job page's Job and Call tables (only that part of the
    page is parsed: the sweep reads thousands of pages)."""
    html = response.content.decode()
    start, end = html.index('<table id="jobqueue-job">'), html.index("<h2>Executions</h2>")
    rows: dict[str, str] = {}
    for row in parse(html[start:end]).find_all("tr"):
        cells = [child for child in row.children if not isinstance(child, str)]
        label, text = cells[0].clean_text, cells[1].clean_text
        rows[label] = f"{rows[label]} | {text}" if label in rows else text
    return rows


@pytest.fixture(scope="module")
def saved() -> dict[str, Population]:
    return {}


@pytest.fixture(autouse=True)
def _no_nav_sidebar(monkeypatch) -> None:
    """No app list on the left: no job or worker shows in it (see the module's docstring)."""
    monkeypatch.setattr(admin.site, "enable_nav_sidebar", False)


@pytest.fixture
def population(admin_client, queue, saved) -> Population:
    """The jobs and workers, made by the first test and restored for the others."""
    connection = queue.connection
    if "made" in saved:
        pipe = connection.pipeline(transaction=False)
        for key, (ttl, payload) in saved["made"].saved.items():
            pipe.restore(key, ttl, payload, replace=True)
        pipe.execute()
        return saved["made"]
    job_ids, workers = _make_jobs(queue)
    names = connection.keys("*")
    pipe = connection.pipeline(transaction=False)
    for key in names:
        pipe.pttl(key)
        pipe.dump(key)
    replies = pipe.execute()
    pages = {}
    with override_settings(TIME_ZONE=TIME_ZONE):
        for job_id in job_ids.values():
            response = admin_client.get(f"{ADMIN}default/job/{job_id}/")
            assert response.status_code == 200
            pages[job_id] = _job_rows(response)
    saved["made"] = Population(job_ids, workers, {
        key: (max(ttl, 0), payload)
        for key, ttl, payload in zip(names, replies[::2], replies[1::2], strict=True)},
        pages)
    return saved["made"]


class Sweep:
    """One field of some hashes, a garbage value in each value's hashes; what went wrong."""

    def __init__(self, client, connection, name: str, hashes: dict[str, list[str]]) -> None:
        self.client, self.connection, self.name, self.hashes = client, connection, name, hashes
        self.stored = {h: connection.hget(h, name) for group in hashes.values() for h in group}
        self.failures: list[str] = []

    def write(self, only: str | None = None) -> None:
        """Every value into its hashes (or only ``only``'s; the others as they were)."""
        pipe = self.connection.pipeline(transaction=False)
        for value, group in self.hashes.items():
            for h in group:
                if only is None or value == only:
                    pipe.hset(h, self.name, GARBAGE[value])
                elif self.stored[h] is None:
                    pipe.hdel(h, self.name)
                else:
                    pipe.hset(h, self.name, self.stored[h])
        pipe.execute()

    def get(self, url: str, value: str, **params):
        """The response, or None after noting a 5xx (or what the view raised)."""
        what = f"{self.name}={value}: GET {url}{' ' + str(params) if params else ''}"
        try:
            response = self.client.get(url, params)
        except Exception as exc:  # the test client re-raises what a view raised: a 500
            self.failures.append(f"{what} raised {type(exc).__name__}: {exc}"[:400])
            return None
        if response.status_code >= 500:
            self.failures.append(f"{what} answered {response.status_code}")
            return None
        return response

    def shared_pages(self) -> None:
        """Pages that show every value at once; one that fails is read per value."""
        for url in SHARED_PAGES:
            if self.get(url, "(every value)") is not None:
                continue
            for value in self.hashes:
                self.write(only=value)
                self.get(url, value)
            self.write()


def _job_pages(sweep: Sweep, population: Population, may_change: set[str]) -> None:
    for (tab, value), job_id in population.jobs.items():
        sweep.get(f"{ADMIN}default/{tab}/", value, q=job_id)
        sweep.get(f"{ADMIN}-/find/{job_id}/", value)
        page = sweep.get(f"{ADMIN}default/job/{job_id}/", value)
        if page is None:
            continue
        if page.status_code != 200:  # a job whose origin is garbage is not this queue's
            if sweep.name != "origin":
                sweep.failures.append(f"{sweep.name}={value}: the {tab} job's page "
                                      f"answered {page.status_code}")
            continue
        shown = _job_rows(page)
        for label, text in population.pages[job_id].items():
            if label not in may_change | MOVING_ROWS and shown.get(label) != text:
                sweep.failures.append(f"{sweep.name}={value}: the {tab} job's page shows "
                                      f"{label!r} as {shown.get(label)!r}, not {text!r}")


@pytest.mark.parametrize("name", list(JOB_FIELDS))
def test_garbage_in_a_job_field(admin_client, queue, population, name):
    hashes = {value: [keys.job(population.jobs[tab, value]) for tab in STATES]
              for value in GARBAGE}
    sweep = Sweep(admin_client, queue.connection, name, hashes)
    with override_settings(TIME_ZONE=TIME_ZONE):
        sweep.write()
        sweep.shared_pages()
        _job_pages(sweep, population, ROWS_OF.get(name, set()))
    assert not sweep.failures, "\n".join(sweep.failures)


@pytest.mark.parametrize("name", WORKER_FIELDS)
def test_garbage_in_a_worker_field(admin_client, queue, population, name):
    hashes = {value: [keys.worker(worker)] for value, worker in population.workers.items()}
    sweep = Sweep(admin_client, queue.connection, name, hashes)
    with override_settings(TIME_ZONE=TIME_ZONE):
        sweep.write()
        sweep.shared_pages()
    assert not sweep.failures, "\n".join(sweep.failures)
