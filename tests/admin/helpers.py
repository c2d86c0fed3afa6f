"""Helpers of the admin tests: a small HTML reader (no third-party parser), the pages' URLs,
and jobs put in each state with real workers on the test Redis."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from django_jobqueue import Worker, get_queue
from tests.admin import jobs
from tests.harness import wait_until

ADMIN = "/admin/django_jobqueue/queue/"
WORKERS = "/admin/django_jobqueue/worker/"
MOUNT = "/jobqueue/"
STATES = ("queued", "started", "scheduled", "deferred", "finished", "failed", "canceled")


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --------------------------------------------------------------------------- HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element | str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def clean_text(self) -> str:
        return " ".join(self.text.split())

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Element]:
        """Descendants with this tag whose attributes match (``True``: present; ``_`` in a
        keyword stands for ``-``; ``class_`` matches one of the classes)."""
        found = []
        for el in self.iter():
            if tag is not None and el.tag != tag:
                continue
            if all(_matches(el, name, want) for name, want in attrs.items()):
                found.append(el)
        return found

    def find(self, tag: str | None = None, **attrs: str | bool) -> Element | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, **attrs: str | bool) -> Element:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"


def _matches(el: Element, name: str, want: str | bool) -> bool:
    if name == "class_":
        return str(want) in (el.get("class") or "").split()
    name = name.replace("_", "-")
    if want is True:
        return name in el.attrs
    if want is False:
        return name not in el.attrs
    return el.get(name) == want


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, dict(attrs), self.current)
        self.current.children.append(el)
        if tag not in VOID:
            self.current = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(response_or_text: Any) -> Element:
    text = response_or_text if isinstance(response_or_text, str) \
        else response_or_text.content.decode()
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root


def messages_of(response: Any) -> list[str]:
    """The Django messages shown on a (followed) response."""
    return [li.clean_text for li in parse(response).find_all("li")
            if li.parent is not None and "messagelist" in (li.parent.get("class") or "")]


def dashboard_counts(response: Any) -> dict[str, dict[str, int]]:
    """{queue: {state: count, ..., "workers": n}} from the dashboard table."""
    table = parse(response).one("table", id="jobqueue-dashboard")
    out = {}
    for row in table.find_all("tr", data_queue=True):
        cells = {td.get("data-state"): int(td.clean_text)
                 for td in row.find_all("td", data_state=True)}
        cells["workers"] = int(row.one("td", data_col="workers").clean_text)
        out[row.get("data-queue")] = cells
    return out


def field_cell(doc: Element, label: str) -> Element:
    """The value cell of the job page's row with this label (the first, if several)."""
    for row in doc.find_all("tr"):
        th = row.find("th")
        if th is not None and th.clean_text == label:
            return row.one("td")
    raise AssertionError(f"no row {label!r}")


def listed_ids(response: Any) -> list[str]:
    table = parse(response).one("table", id="jobqueue-jobs")
    return [tr.get("data-job-id") for tr in table.find_all("tr", data_job_id=True)]


def csrf_token(client: Client, url: str) -> str:
    """The CSRF token of a page's form (GET it first, as a browser would)."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    field = parse(page).find("input", name="csrfmiddlewaretoken")
    assert field is not None, f"no csrf token on {url}"
    return field.get("value")


# --------------------------------------------------------------------------- jobs


def work(queue: Any = None) -> None:
    """Run every queued job of ``queue`` (default: "default") in this process."""
    queue = queue or get_queue("default")
    Worker([queue], connection=queue.connection).work(burst=True)


def finished_job(queue: Any, *args: Any, **kwargs: Any) -> Any:
    job = queue.enqueue(jobs.add, *(args or (1, 2)), **kwargs)
    work(queue)
    assert job.get_status() == "finished"
    return job


def failed_job(queue: Any, message: str = "boom") -> Any:
    job = queue.enqueue(jobs.fail, message)
    work(queue)
    assert job.get_status() == "failed"
    return job


def canceled_job(queue: Any) -> Any:
    job = queue.enqueue(jobs.add, 1, 1)
    job.cancel()
    assert job.get_status() == "canceled"
    return job


def scheduled_job(queue: Any) -> Any:
    from datetime import timedelta

    job = queue.enqueue_in(timedelta(hours=1), jobs.add, 2, 2)
    assert job.get_status() == "scheduled"
    return job


def deferred_job(queue: Any) -> Any:
    parent = queue.enqueue(jobs.add, 3, 3)
    job = queue.enqueue(jobs.add, 4, 4, depends_on=parent)
    assert job.get_status() == "deferred"
    return job


@contextlib.contextmanager
def running_job(queue: Any, limit: float = 30.0) -> Iterator[tuple[Any, Any]]:
    """(job, worker): a job started by a worker thread, spinning until stopped (or ``limit``).
    The worker leaves at the end (it is in burst mode)."""
    job = queue.enqueue(jobs.spin, limit, job_timeout=120)
    worker = Worker([queue], connection=queue.connection, maintenance_interval=0.1)
    thread = threading.Thread(target=worker.work, kwargs={"burst": True}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: job.get_status() == "started", timeout=15,
                   message="the worker never started the job")
        yield job, worker
    finally:
        worker.request_stop()
        if job.get_status() == "started":
            from django_jobqueue.engine.moves import stop_job

            with contextlib.suppress(Exception):
                stop_job(queue.connection, job.id)
        thread.join(timeout=30)
    assert not thread.is_alive(), "worker thread did not stop"


@contextlib.contextmanager
def live_worker(*queues: Any, **kwargs: Any) -> Iterator[Any]:
    """A worker thread (not burst: it stays until the end of the block), registered before
    the block starts; the worker is yielded."""
    queues = queues or (get_queue("default"),)
    kwargs.setdefault("wait_timeout", 0.2)
    kwargs.setdefault("worker_ttl", 2)  # a heartbeat (with fresh counts) every 0.5 s
    worker = Worker(list(queues), connection=queues[0].connection, **kwargs)
    thread = threading.Thread(target=worker.work, daemon=True)
    thread.start()
    try:
        from django_jobqueue.engine import keys

        wait_until(lambda: queues[0].connection.exists(keys.worker(worker.name)), timeout=15,
                   message="the worker never registered")
        yield worker
    finally:
        worker.request_stop()
        thread.join(timeout=30)
    assert not thread.is_alive(), "worker thread did not stop"


#: the field the confirmation page posts with a whole-queue action
CONFIRM = {"confirm": "yes"}
