"""A pool's life with real processes on a real Redis: warm and forced shutdown with a job
in every slot, recycling by job count and by memory, async jobs sharing a child's event
loop, get_current_job() per thread and per coroutine, --reload, and an idle pool's Redis
traffic, which does not grow with its size."""

from __future__ import annotations

import signal
import time

import pytest

from django_jobqueue import Queue
from django_jobqueue.engine import JobStatus
from tests.engine import jobs_pool as jp
from tests.engine.jobs_faults import where
from tests.harness import wait_until


def _fill_every_slot(connection, pq, pools, name: str, tag: str, processes: int,
                     threads: int):
    slots = processes * threads
    jobs = [pq.enqueue(jp.held, tag, job_timeout=120) for _ in range(slots)]
    proc = pools.start_pool(name, processes, threads, "--worker-ttl", "30")
    wait_until(lambda: len(jp.started_pids(connection, tag)) == slots, timeout=30,
               message=pools.logs())
    return proc, jobs


def test_warm_shutdown_finishes_the_job_in_every_slot(connection, pq, pools):
    proc, jobs = _fill_every_slot(connection, pq, pools, "pw", "warm", 2, 2)
    extra = pq.enqueue(jp.noted)  # queued: must not be taken once the shutdown began
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: jp.records(connection, "pool")["pw"]["state"] == "stopping",
               timeout=10)
    assert proc.poll() is None  # still waiting for its jobs
    jp.release(connection, "warm")
    assert proc.wait(timeout=30) == 0, pools.logs()
    assert [jp.status(job) for job in jobs] == [JobStatus.FINISHED] * 4
    assert [jp.runs(connection, job.id) for job in jobs] == [1] * 4
    assert jp.status(extra) == JobStatus.QUEUED and jp.runs(connection, extra.id) == 0
    assert jp.records(connection, "pool") == jp.records(connection, "child") == {}
    assert connection.zcard("jq:workers") == 0


def test_a_second_signal_stops_at_once_and_puts_every_job_back(connection, pq, pools):
    proc, jobs = _fill_every_slot(connection, pq, pools, "pf", "forced", 2, 2)
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: jp.records(connection, "pool")["pf"]["state"] == "stopping",
               timeout=10)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0, pools.logs()
    for job in jobs:
        assert jp.status(job) == JobStatus.QUEUED
        assert where(connection, job.id, jp.QUEUE) == ["queue"]
        assert job.lost_count == 0  # given back, not lost
    assert jp.records(connection, "slot") == {}


def test_burst_with_nothing_to_do_exits_without_starting_children(pools):
    proc = pools.start_pool("pb", 2, 2, "--burst")
    assert proc.wait(timeout=20) == 0
    assert "child" not in pools.log("pb")


def test_burst_while_suspended_ends_without_running_anything(connection, pq, pools):
    from django_jobqueue.engine import keys

    jobs = [pq.enqueue(jp.noted) for _ in range(3)]
    connection.set(keys.suspended(), 1)
    proc = pools.start_pool("psus", 2, 2, "--burst")
    assert proc.wait(timeout=30) == 0, pools.logs()
    assert [jp.status(job) for job in jobs] == [JobStatus.QUEUED] * 3
    assert pools.log("psus").count("started (pid") <= 2  # no child started over and over


def test_max_jobs_per_child_recycles_children(connection, pq, pools):
    jobs = [pq.enqueue(jp.noted) for _ in range(10)]
    proc = pools.start_pool("pm", 1, 1, "--max-jobs-per-child", "3", "--burst")
    assert proc.wait(timeout=60) == 0, pools.logs()
    pids = [int(connection.hget(jp.WHO, job.id).split(b":")[0]) for job in jobs]
    assert [jp.status(job) for job in jobs] == [JobStatus.FINISHED] * 10
    assert len(set(pids)) == 4  # 3 + 3 + 3 + 1
    assert all(pids.count(pid) <= 3 for pid in pids)
    assert "ran 3 jobs (max_jobs_per_child 3)" in pools.log("pm")


def test_max_memory_per_child_replaces_a_child_that_grew(connection, pq, pools):
    grow = pq.enqueue(jp.allocate, 300)
    after = pq.enqueue(jp.noted)
    proc = pools.start_pool("pmem", 1, 1, "--max-memory-per-child", "200", "--burst")
    assert proc.wait(timeout=60) == 0, pools.logs()
    assert jp.status(grow) == jp.status(after) == JobStatus.FINISHED
    assert grow.return_value() != int(connection.hget(jp.WHO, after.id).split(b":")[0])
    assert "max_memory_per_child 200 MB" in pools.log("pmem")


def test_async_jobs_share_the_childs_loop_and_overlap(connection, pq, pools):
    jobs = [pq.enqueue(jp.napping, 1.0) for _ in range(4)]
    proc = pools.start_pool("pa", 1, 4, "--burst")
    assert proc.wait(timeout=60) == 0, pools.logs()
    assert [job.return_value() for job in jobs] == [job.id for job in jobs]
    spans = [line.decode().split() for line in connection.lrange(jp.SPANS, 0, -1)]
    assert len(spans) == 4
    # all four were asleep at once: each started before any of them ended
    assert max(float(start) for _, start, _ in spans) < min(float(end) for *_, end in spans)
    assert len({connection.hget(jp.WHO, job.id).split(b":")[0] for job in jobs}) == 1


def test_the_soft_timeout_reaches_jobs_on_every_slot_without_a_kill(connection, pq, pools):
    jobs = [pq.enqueue(jp.spins, 60, job_timeout=1) for _ in range(4)]
    proc = pools.start_pool("pt", 1, 4, "--grace", "30", "--burst")
    assert proc.wait(timeout=60) == 0, pools.logs()
    for job in jobs:
        assert jp.status(job) == JobStatus.FAILED
        assert "JobTimeoutException" in job.exc_info and "was killed" not in job.exc_info
    assert "killing child" not in pools.log("pt")
    assert len(set(connection.lrange("pool:spinning", 0, -1))) == 1  # one child throughout


def test_get_current_job_is_right_in_every_thread(connection, pq, pools):
    jobs = [pq.enqueue(jp.current_id) for _ in range(40)]
    proc = pools.start_pool("pc", 1, 8, "--burst")
    assert proc.wait(timeout=60) == 0, pools.logs()
    assert [job.return_value() for job in jobs] == [job.id for job in jobs]


def test_reload_restarts_the_pool_on_an_edited_task_module(connection, pools, tmp_path):
    jp.write_module(tmp_path, "def version():\n    return 'v1'\n")
    q = Queue("reload", connection=connection)
    proc = pools.start("pre", "--processes", "1", "--reload", "--path", str(tmp_path),
                       queue="reload")
    first = q.enqueue("pool_reloaded.version")
    wait_until(lambda: jp.status(first) == JobStatus.FINISHED, timeout=30, message=pools.logs())
    assert first.return_value() == "v1"

    def restarted_after_an_edit() -> bool:
        # written again on every poll: an edit made before the watcher's first scan is not
        # a change, and a later one is
        if pools.log("pre").count("serving reload") >= 2:
            return True
        # another size than v1's: a .pyc compiled in the same second as the edit (its
        # mtime has whole seconds) would otherwise still count as fresh, and v1 run again
        jp.write_module(tmp_path, "def version():\n    return 'v2'  # edited\n")
        return False

    wait_until(restarted_after_an_edit, timeout=30, interval=0.5,
               message=f"the pool never restarted\n{pools.logs()}")
    second = q.enqueue("pool_reloaded.version")
    wait_until(lambda: jp.status(second) == JobStatus.FINISHED, timeout=30, message=pools.logs())
    assert second.return_value() == "v2"
    assert proc.poll() is None  # the same process, started again in place


def _idle_requests(connection, pools, name: str, processes: int, threads: int
                   ) -> dict[str, int]:
    """Commands the pool's processes sent over 2 idle seconds, by name (MONITOR, leaving out
    what scripts run inside Redis)."""
    proc = pools.start_pool(name, processes, threads, "--maintenance-interval", "0.2")
    wait_until(lambda: len(jp.records(connection, "child")) == processes, timeout=30)
    wait_until(lambda: len(jp.records(connection, "slot")) == processes * threads
               and all(c.get("state") == "idle"
                       for c in jp.records(connection, "child").values()), timeout=30)
    seen: dict[str, int] = {}
    with connection.monitor() as monitor:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            command = monitor.next_command()
            if command.get("client_type") == "lua":
                continue
            verb = command["command"].split(" ", 1)[0].upper()
            seen[verb] = seen.get(verb, 0) + 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    return seen


@pytest.mark.timeout(120)
def test_an_idle_pools_traffic_does_not_grow_with_its_threads(connection, pools):
    small = _idle_requests(connection, pools, "psmall", 1, 1)
    big = _idle_requests(connection, pools, "pbig", 1, 16)
    assert small.get("EVALSHA", 0) > 0  # the maintenance ticks
    # one maintenance component per pool, and one listening slot per child: the same
    # requests whatever the number of threads (a tick or a wait more or less in 2 s)
    assert abs(sum(big.values()) - sum(small.values())) <= 6, (small, big)
    assert big.get("BLPOP", 0) <= 2, big
