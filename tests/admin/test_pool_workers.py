"""Worker pools (``runworker --processes N --threads M``) as the admin shows them: a pool's
row, its children indented under it (each running job linked), then the standalone
workers; a child whose pool's record is missing stands alone; corrupt pool and child
records never give a 500.

The records are written here in the format the pool's supervisor writes (its heartbeat):
the pool and its children in the workers set, the slots (which take the jobs, under their
own names) only as records."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from django_jobqueue.engine import keys, steps
from django_jobqueue.engine.worker.info import WorkerInfo, grouped, live_workers
from tests.admin import jobs
from tests.admin.helpers import ADMIN, WORKERS, dashboard_counts, field_cell, parse

pytestmark = pytest.mark.timeout(60)

OVERVIEW_PAGES = (ADMIN, WORKERS, f"{ADMIN}default/", f"{ADMIN}-/stats.json",
                  f"{ADMIN}-/metrics")
BIRTH = "1700000000.000000"


def _write(connection, name: str, listed: bool = True, **record: object) -> None:
    """A record as a heartbeat leaves it (``listed``: in the workers set)."""
    now = time.time()
    fields = {"name": name, "last_heartbeat": f"{now:.6f}", "current_job": "", **record}
    connection.hset(keys.worker(name), mapping={k: str(v) for k, v in fields.items()})
    connection.expire(keys.worker(name), 600)
    if listed:
        connection.zadd(keys.workers(), {name: now})


def _pool(connection, name: str, children: str, **extra: object) -> None:
    fields = {"kind": "pool", "hostname": "pool-host", "pid": 100, "queues": "default",
              "birth": BIRTH, "state": "busy", "processes": 2, "threads": 3,
              "children": children, "successful_job_count": 7, "failed_job_count": 2,
              "total_working_time": "1.5", **extra}
    _write(connection, name, **fields)


def _child(connection, pool: str, k: int, pid: int, running: list[str] = (),
           **extra: object) -> str:
    name = f"{pool}.c{k}"
    fields = {"kind": "child", "pool": pool, "hostname": "pool-host", "pid": pid,
              "queues": "default", "birth": BIRTH, "state": "busy" if running else "idle",
              "threads": 3, "current_jobs": ",".join(running), "successful_job_count": 4,
              "failed_job_count": 1, "total_working_time": "0.75", **extra}
    _write(connection, name, **fields)
    return name


def _running(queue, slot: str) -> str:
    """A job started by a slot (its record written first, as the pool's heartbeat does)."""
    pool, child = slot.split(".")[0], slot.rpartition(".")[0]
    _write(queue.connection, slot, listed=False, kind="slot", pool=pool, child=child,
           state="busy")
    job = queue.enqueue(jobs.add, 1, 2)
    taken = steps.take(queue.connection, steps.Take(slot, 3600, ["default"]))
    assert taken is not None and taken.job_id == job.id
    return job.id


def _standalone(connection, name: str, current: str = "") -> None:
    _write(connection, name, hostname="h", pid=55, queues="default,high", birth=BIRTH,
           state="busy" if current else "idle", current_job=current,
           successful_job_count=1, failed_job_count=0, total_working_time="0.1")


@pytest.fixture
def population(queue):
    """Pool "alpha" (2 × 3): alpha.c1 running two jobs, alpha.c2 idle; "ghost.c3", a
    child whose pool's record is gone, running one; "aaa-worker", a standalone worker."""
    connection = queue.connection
    first, second = _running(queue, "alpha.c1.s0"), _running(queue, "alpha.c1.s2")
    lone = _running(queue, "ghost.c3.s1")
    _pool(connection, "alpha", "alpha.c1,alpha.c2")
    _child(connection, "alpha", 1, 201, [first, second])
    _child(connection, "alpha", 2, 202)
    _child(connection, "ghost", 3, 301, [lone])
    _standalone(connection, "aaa-worker")
    return {"running": [first, second], "lone": lone}


def _rows(client) -> list:
    response = client.get(WORKERS)
    assert response.status_code == 200
    return parse(response).one("table", id="jobqueue-workers").find_all("tr", data_worker=True)


def _cells(row) -> list[str]:
    return [td.clean_text for td in row.find_all("td")]


# --------------------------------------------------------------------------- WorkerInfo


def test_worker_info_reads_pools_children_and_workers(queue, population):
    infos = {i.name: i for i in live_workers(queue.connection)}
    assert sorted(infos) == ["aaa-worker", "alpha", "alpha.c1", "alpha.c2", "ghost.c3"]
    pool = infos["alpha"]
    assert (pool.kind, pool.pool, pool.processes, pool.threads) == ("pool", None, 2, 3)
    assert pool.children == ["alpha.c1", "alpha.c2"]
    assert pool.current_job_ids == [] and pool.current_job_id is None
    assert (pool.successful_job_count, pool.failed_job_count) == (7, 2)
    child = infos["alpha.c1"]
    assert (child.kind, child.pool, child.threads, child.processes) == ("child", "alpha", 3, 0)
    assert child.current_job_ids == population["running"] and child.children == []
    assert child.pid == 201 and child.queue_names == ["default"]
    assert infos["alpha.c2"].current_job_ids == []
    worker = infos["aaa-worker"]
    assert (worker.kind, worker.pool, worker.processes, worker.threads) == ("worker", None, 0, 0)
    assert worker.children == [] and worker.current_job_ids == []
    # the queue filter sees pools and children alike; slots are never listed
    assert len(live_workers(queue.connection, "default")) == 5
    assert [i.name for i in live_workers(queue.connection, "high")] == ["aaa-worker"]


def test_worker_info_of_a_standalone_worker_record():
    info = WorkerInfo.from_fields({b"name": b"w", b"current_job": b"abc", b"pid": b"9"})
    assert (info.kind, info.current_job_ids, info.current_job_id) == ("worker", ["abc"], "abc")
    slot = WorkerInfo.from_fields({b"name": b"p.c1.s0", b"kind": b"slot", b"pool": b"p",
                                   b"current_job": b"xyz"})
    assert (slot.kind, slot.pool, slot.current_job_ids) == ("slot", "p", ["xyz"])


@pytest.mark.parametrize(("field", "value", "attribute", "expected"), [
    ("processes", "many", "processes", 0), ("processes", "-4", "processes", 0),
    ("processes", "nan", "processes", 0), ("processes", "2.7", "processes", 2),
    ("threads", "\xff", "threads", 0), ("threads", "", "threads", 0),
    ("children", ",, ,a.c1,,a.c1, b ", "children", ["a.c1", "b"]),
    ("children", "", "children", []),
    ("current_jobs", " x ,,y,x", "current_job_ids", ["x", "y"]),
    ("kind", "", "kind", "worker"), ("pool", "", "pool", None),
])
def test_worker_info_reads_corrupt_values_leniently(field, value, attribute, expected):
    record = {b"name": b"a.c1", b"kind": b"child", b"pool": b"a", field.encode(): value.encode()}
    assert getattr(WorkerInfo.from_fields(record), attribute) == expected


def _info(name: str, **fields: str) -> WorkerInfo:
    return WorkerInfo.from_fields({b"name": name.encode(),
                                   **{k.encode(): v.encode() for k, v in fields.items()}})


def test_grouped_orders_pools_with_their_children_then_the_rest():
    found = grouped([
        _info("zed"), _info("p.c10", kind="child", pool="p"), _info("orphan.c1", kind="child",
                                                                    pool="gone"),
        _info("p.c2", kind="child", pool="p"), _info("p", kind="pool", children="p.c2,p.c1"),
        _info("p.c1", kind="child", pool="p"), _info("b", kind="pool"),
        # its record names no pool, and no pool lists it: alone
        _info("x.c1", kind="child"),
        # a pool that lists a child whose own record lost its pool field: still its child
        _info("q", kind="pool", children="q.c1"), _info("q.c1", kind="child"),
        _info("odd", kind="<weird>"), _info("w", kind="child", pool="zed"),
    ])
    assert [(top.name, [c.name for c in children]) for top, children in found] == [
        ("b", []), ("p", ["p.c2", "p.c1", "p.c10"]), ("q", ["q.c1"]),
        ("odd", []), ("orphan.c1", []), ("w", []), ("x.c1", []), ("zed", [])]


# --------------------------------------------------------------------------- the page


def test_workers_page_shows_a_pool_with_its_children_under_it(admin_client, population):
    rows = _rows(admin_client)
    assert [(r.get("data-worker"), r.get("data-kind")) for r in rows] == [
        ("alpha", "pool"), ("alpha.c1", "child"), ("alpha.c2", "child"),
        ("aaa-worker", "worker"), ("ghost.c3", "worker")]
    pool, first, second = rows[:3]
    assert "jobqueue-child" not in (pool.get("class") or "")
    name, host, pid, state, current, queues, ok, failed, started, heartbeat = _cells(pool)
    assert name == "alpha pool 2 × 3"
    assert pool.one("span", data_col="shape").clean_text == "pool 2 × 3"
    assert (host, pid, state, current, queues) == ("pool-host", "100", "busy", "—", "default")
    assert (ok, failed) == ("7", "2")
    assert started.startswith("2023-11-1") and time.strftime("%Y") in heartbeat
    for child in (first, second):
        assert child.get("data-pool") == "alpha"
        assert "jobqueue-child" in child.get("class").split()
    name, host, pid, state, current, *_ = _cells(first)
    assert (name, pid, state) == ("alpha.c1", "201", "busy")
    assert current == ", ".join(population["running"])
    links = [(a.clean_text, a.get("href")) for a in first.one("td", data_col="jobs").find_all("a")]
    assert links == [(job_id, f"{ADMIN}-/find/{job_id}/") for job_id in population["running"]]
    assert _cells(second)[:5] == ["alpha.c2", "pool-host", "202", "idle", "—"]
    # each link leads to the job's page
    page = admin_client.get(links[1][1], follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0] == f"{ADMIN}default/job/{population['running'][1]}/"


def test_a_child_whose_pool_record_is_missing_is_shown_alone(admin_client, population):
    row = {r.get("data-worker"): r for r in _rows(admin_client)}["ghost.c3"]
    assert row.get("data-kind") == "worker" and row.get("data-pool") is None
    assert "jobqueue-child" not in (row.get("class") or "")
    assert row.one("span", data_col="orphan").clean_text == "child of ghost (pool not found)"
    cells = _cells(row)
    assert cells[2:4] == ["301", "busy"]
    lone = population["lone"]
    assert [a.get("href") for a in row.one("td", data_col="jobs").find_all("a")] == [
        f"{ADMIN}-/find/{lone}/"]


def test_a_pool_whose_children_expired_is_still_shown(admin_client, queue):
    _pool(queue.connection, "lonely", "lonely.c1,lonely.c2")
    rows = _rows(admin_client)
    assert [(r.get("data-worker"), r.get("data-kind")) for r in rows] == [("lonely", "pool")]


def test_the_dashboard_and_counts_take_a_pool_once(admin_client, queue, population):
    counts = dashboard_counts(admin_client.get(ADMIN))
    # alpha (its children are not counted again), ghost.c3 (alone) and aaa-worker
    assert counts["default"]["workers"] == 3 and counts["high"]["workers"] == 1
    doc = parse(admin_client.get(ADMIN))
    assert "3 live workers" in doc.one("div", id="content-main").clean_text
    title = doc.one("tr", data_queue="default").one("td", data_col="workers").get("title")
    assert title == "alpha, aaa-worker, ghost.c3"
    queue_page = parse(admin_client.get(f"{ADMIN}default/")).one("div", id="content-main")
    assert "3 workers serving this queue: alpha, aaa-worker, ghost.c3." in queue_page.clean_text
    stats = admin_client.get(f"{ADMIN}-/stats.json").json()
    assert stats["queues"]["default"]["workers"] == 3
    shown = {w["name"]: w for w in stats["workers"]}
    assert len(shown) == 5  # every record, children too
    assert (shown["alpha"]["kind"], shown["alpha"]["processes"], shown["alpha"]["threads"],
            shown["alpha"]["children"]) == ("pool", 2, 3, ["alpha.c1", "alpha.c2"])
    assert shown["alpha.c1"]["pool"] == "alpha"
    assert shown["alpha.c1"]["current_jobs"] == population["running"]
    assert shown["aaa-worker"]["kind"] == "worker" and shown["aaa-worker"]["current_jobs"] == []
    metrics = admin_client.get(f"{ADMIN}-/metrics").content.decode()
    assert 'jobqueue_workers{queue="default"} 3' in metrics
    assert 'jobqueue_worker_jobs_total{worker="alpha",outcome="succeeded"} 7' in metrics
    assert 'worker="alpha.c1"' not in metrics  # in its pool's counts
    assert 'jobqueue_worker_jobs_total{worker="ghost.c3",outcome="succeeded"} 4' in metrics
    out = StringIO()
    call_command("jobqueue", "stats", "--json", stdout=out)
    assert json.loads(out.getvalue())["default"]["workers"] == 3


def test_the_page_of_a_job_a_slot_runs_names_the_slot(admin_client, queue, population):
    job_id = population["running"][1]
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job_id}/"))
    cell = field_cell(doc, "Worker")
    assert cell.clean_text == "alpha.c1.s2"
    assert [a.get("href") for a in cell.find_all("a")] in ([], [WORKERS])


# --------------------------------------------------------------------------- garbage


def test_corrupt_pool_and_child_records_never_give_a_500(admin_client, queue):
    connection = queue.connection
    _pool(connection, "bad", ",,<b>x</b>,,bad.c1,\xff,bad.c1", processes="many",
          threads="-3")
    connection.hset(keys.worker("bad"), "birth", "yesterday")
    _child(connection, "bad", 1, 11, threads="\xff")
    connection.hset(keys.worker("bad.c1"), mapping={
        "pid": "x",
        "current_jobs": b"not a job id!,<b>job</b>,\xff\xfe,<i>y</i>,,," + b"0" * 32})
    # a child naming a record that is no pool, one naming itself, one naming nothing
    _standalone(connection, "plain")
    _child(connection, "plain", 1, 12)
    _write(connection, "self.c1", kind="child", pool="self.c1")
    _write(connection, "nobody.c1", kind="child", pool="", children="junk", processes="1e999")
    # a kind nobody writes, a slot listed by mistake, a record with no name
    _write(connection, "odd", kind="<script>alert(1)</script>", processes="3", threads="2")
    _write(connection, "p.c1.s0", kind="slot", pool="p", child="p.c1", current_job="z z!")
    connection.hset(keys.worker("noname"), mapping={"kind": "pool", "children": "a,b"})
    connection.zadd(keys.workers(), {"noname": time.time(), "expired": time.time()})
    for url in OVERVIEW_PAGES:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        if not response["Content-Type"].startswith("text/html"):
            continue  # JSON and Prometheus' text carry values as they are
        body = response.content.decode()
        for raw in ("<b>x</b>", "<b>job</b>", "<i>y</i>", "<script>alert(1)</script>"):
            assert raw not in body, (url, raw)
    rows = _rows(admin_client)
    kinds = [(r.get("data-worker"), r.get("data-kind")) for r in rows]
    # nothing dropped (only "expired", which has no record); the pools first
    assert kinds == [("", "pool"), ("bad", "pool"), ("bad.c1", "child"),
                     ("nobody.c1", "worker"), ("odd", "worker"), ("p.c1.s0", "worker"),
                     ("plain", "worker"), ("plain.c1", "worker"), ("self.c1", "worker")]
    bad = rows[1]
    assert bad.one("span", data_col="shape").clean_text == "pool 0 × 0"
    child = rows[2]
    jobs_cell = child.one("td", data_col="jobs")
    # only a valid job id becomes a link; the rest is escaped text
    assert [a.clean_text for a in jobs_cell.find_all("a")] == ["0" * 32]
    assert "not a job id!" in jobs_cell.clean_text and "<b>job</b>" in jobs_cell.clean_text
    assert _cells(child)[2] == "0"
    assert rows[4].find("span", data_col="shape") is None  # not a pool: no N × M
    assert rows[5].one("td", data_col="jobs").clean_text == "z z!"  # not an id: text
    assert rows[5].one("td", data_col="jobs").find("a") is None
