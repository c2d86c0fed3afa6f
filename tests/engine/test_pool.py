"""The worker pool with real processes on a real Redis: a pool drains its queue once per
job; a crashed child's jobs come back at once (not after their lease); the hard time limit
kills a child whose job ignores its timeout, fails that job and puts the child's other jobs
back; what the pool's records say."""

from __future__ import annotations

import os
import signal

import pytest

from django_jobqueue.engine import JobStatus
from tests.engine import jobs_pool as jp
from tests.engine.jobs_faults import where
from tests.harness import wait_until

LONG_TTL = "30"  # a lease far longer than any wait below: a job back sooner was not leased


def test_a_pool_of_2x4_runs_every_job_once_in_both_children(connection, pq, pools):
    jobs = [pq.enqueue(jp.noted, 0.01) for _ in range(200)]
    proc = pools.start_pool("p24", 2, 4, "--burst")
    assert proc.wait(timeout=60) == 0, pools.logs()
    assert [jp.runs(connection, job.id) for job in jobs] == [1] * 200
    assert {where(connection, job.id, jp.QUEUE)[0] for job in jobs} == {"finished"}
    workers = {jp.status(job) and job.worker_name for job in jobs}
    children = {name.rsplit(".", 1)[0] for name in workers}
    assert children == {"p24.c1", "p24.c2"}  # both children took jobs
    assert workers <= {f"p24.c{c}.s{s}" for c in (1, 2) for s in range(4)}
    pids = {int(connection.hget(jp.WHO, job.id).split(b":")[0]) for job in jobs}
    assert len(pids) == 2 and proc.pid not in pids  # the supervisor runs no job


def test_the_pool_and_its_children_publish_records(connection, pq, pools):
    job = pq.enqueue(jp.held, "rec")
    pools.start_pool("prec", 2, 3)
    wait_until(lambda: jp.started_pids(connection, "rec"), timeout=20, message=pools.logs())
    wait_until(lambda: job.id in jp.records(connection, "child").get(
        jp.status(job) and job.worker_name.rsplit(".", 1)[0], {}).get("current_jobs", ""),
        timeout=10, message="the child's record never showed its job")
    pool = jp.records(connection, "pool")["prec"]
    assert (pool["processes"], pool["threads"]) == ("2", "3")
    assert pool["children"].split(",") == ["prec.c1", "prec.c2"]
    children = jp.records(connection, "child")
    assert set(children) == {"prec.c1", "prec.c2"}
    assert {c["pool"] for c in children.values()} == {"prec"}
    slots = jp.records(connection, "slot")
    assert set(slots) == {f"prec.c{c}.s{s}" for c in (1, 2) for s in range(3)}
    assert slots[job.worker_name]["current_job"] == job.id
    listed = {n.decode() for n in connection.zrange("jq:workers", 0, -1)}
    assert listed == {"prec", "prec.c1", "prec.c2"}  # slots are found through their child
    jp.release(connection, "rec")
    wait_until(lambda: jp.status(job) == JobStatus.FINISHED, timeout=10)


def test_sigkill_of_a_child_brings_its_jobs_back_at_once(connection, pq, pools):
    jobs = [pq.enqueue(jp.held, "kill", job_timeout=120) for _ in range(2)]
    pools.start_pool("pk", 1, 2, "--worker-ttl", LONG_TTL)
    wait_until(lambda: len(jp.started_pids(connection, "kill")) == 2, timeout=20,
               message=pools.logs())
    (child,) = jp.started_pids(connection, "kill")[:1]
    os.kill(child, signal.SIGKILL)
    # both run again in the new child long before their 30 s lease could lapse
    wait_until(lambda: len(jp.started_pids(connection, "kill")) == 4, timeout=10,
               message=f"the jobs did not come back at once\n{pools.logs()}")
    assert set(jp.started_pids(connection, "kill")[2:]) != {child}
    jp.release(connection, "kill")
    wait_until(lambda: all(jp.status(j) == JobStatus.FINISHED for j in jobs), timeout=10)
    for job in jobs:
        assert jp.runs(connection, job.id) == 2
        assert job.lost_count == 1
        assert job.worker_name.startswith("pk.c2.")  # the replacement child
    assert "pk.c1" not in jp.records(connection, "child")  # the dead child's record is gone


def test_a_job_that_exits_its_child_fails_after_max_lost_attempts(connection, pq, pools):
    bad = pq.enqueue(jp.exits)
    good = pq.enqueue(jp.noted)
    pools.start_pool("px", 1, 1, "--worker-ttl", LONG_TTL, "--max-lost-attempts", "2")
    wait_until(lambda: jp.status(good) == JobStatus.FINISHED, timeout=30, message=pools.logs())
    assert jp.status(bad) == JobStatus.FAILED
    assert jp.runs(connection, bad.id) == 2
    assert "died (exit code 7)" in bad.exc_info
    assert where(connection, bad.id, jp.QUEUE) == ["failed"]


def test_os_exit_0_in_a_job_is_a_crash_too(connection, pq, pools):
    bad = pq.enqueue(jp.exits_cleanly)
    pools.start_pool("px0", 1, 1, "--worker-ttl", LONG_TTL, "--max-lost-attempts", "2")
    wait_until(lambda: jp.status(bad) == JobStatus.FAILED, timeout=30, message=pools.logs())
    assert jp.runs(connection, bad.id) == 2
    assert "before it was done" in bad.exc_info


def test_a_free_slot_takes_a_job_while_its_neighbours_are_busy(connection, pq, pools):
    """Slots go busy one by one; every time, an idle one must still be listening."""
    pools.start_pool("pfree", 1, 4)
    for n in range(3):
        pq.enqueue(jp.held, f"busy{n}", job_timeout=120)
        wait_until(lambda n=n: jp.started_pids(connection, f"busy{n}"), timeout=20,
                   message=pools.logs())
        quick = pq.enqueue(jp.noted)
        wait_until(lambda q=quick: jp.status(q) == JobStatus.FINISHED, timeout=10,
                   message=f"no idle slot took the job after {n + 1} went busy\n"
                           f"{pools.logs()}")
    for n in range(3):
        jp.release(connection, f"busy{n}")


def test_hard_limit_kills_the_child_fails_the_job_and_requeues_its_neighbour(
        connection, pq, pools):
    neighbour = pq.enqueue(jp.held, "nb", job_timeout=120)
    pools.start_pool("ph", 1, 2, "--grace", "1", "--worker-ttl", LONG_TTL)
    wait_until(lambda: jp.started_pids(connection, "nb"), timeout=20, message=pools.logs())
    first_child = jp.started_pids(connection, "nb")[0]
    stuck = pq.enqueue(jp.stubborn, 60, job_timeout=1)
    wait_until(lambda: jp.status(stuck) == JobStatus.FAILED, timeout=20,
               message=f"the hard limit never struck\n{pools.logs()}")
    assert "killed after exceeding its timeout of 1 s" in stuck.exc_info
    assert jp.runs(connection, stuck.id) == 1
    assert stuck.lost_count == 0
    # the neighbour was put back (not failed, no loss counted) and runs in a new child
    wait_until(lambda: len(jp.started_pids(connection, "nb")) == 2, timeout=10,
               message=pools.logs())
    assert jp.started_pids(connection, "nb")[1] != first_child
    jp.release(connection, "nb")
    wait_until(lambda: jp.status(neighbour) == JobStatus.FINISHED, timeout=10)
    assert neighbour.lost_count == 0
    with pytest.raises(ProcessLookupError):
        os.kill(first_child, 0)


def test_hard_limit_applies_the_retry_policy(connection, pq, pools):
    from django_jobqueue import Retry

    stuck = pq.enqueue(jp.stubborn, 60, job_timeout=1, retry=Retry(max=1))
    pools.start_pool("pr", 1, 1, "--grace", "0.5")
    wait_until(lambda: jp.runs(connection, stuck.id) == 2, timeout=20, message=pools.logs())
    wait_until(lambda: jp.status(stuck) == JobStatus.FAILED, timeout=20, message=pools.logs())
    assert len(list(stuck.results())) == 2


def test_a_stop_request_the_job_ignores_kills_its_child_and_the_job_is_stopped(
        connection, pq, pools):
    from django_jobqueue.engine import steps

    job = pq.enqueue(jp.swallows_everything, 60, job_timeout=120)
    pools.start_pool("ps", 1, 2, "--grace", "1")
    wait_until(lambda: jp.status(job) == JobStatus.STARTED, timeout=20, message=pools.logs())
    assert steps.stop(connection, [job.id], 60) == ["ok"]
    assert connection.smembers("jq:stops:ps") == {job.id.encode()}  # the pool's one key
    wait_until(lambda: jp.status(job) == JobStatus.STOPPED, timeout=20, message=pools.logs())
    assert "did not stop within 1 s" in job.exc_info
    assert jp.runs(connection, job.id) == 1


def test_a_stop_request_reaches_a_job_in_a_pool(connection, pq, pools):
    from django_jobqueue.engine import steps

    job = pq.enqueue(jp.held, "stop", job_timeout=120)
    pools.start_pool("pst", 1, 2)
    wait_until(lambda: jp.started_pids(connection, "stop"), timeout=20, message=pools.logs())
    steps.stop(connection, [job.id], 60)
    wait_until(lambda: jp.status(job) == JobStatus.STOPPED, timeout=10, message=pools.logs())
    assert "stopped by request" in job.exc_info
    assert "did not stop within" not in job.exc_info  # it stopped: no kill was needed


def test_a_stopped_jobs_on_stopped_callback_outlives_the_grace_and_keeps_its_child(
        connection, pq, pools):
    from django_jobqueue import Callback
    from django_jobqueue.engine import steps

    neighbour = pq.enqueue(jp.held, "cbnb", job_timeout=120)
    job = pq.enqueue(jp.held, "cbstop", job_timeout=120,
                     on_stopped=Callback(jp.lingering_callback, timeout=30))
    pools.start_pool("pcb", 1, 2, "--grace", "1", "--worker-ttl", LONG_TTL)
    wait_until(lambda: jp.started_pids(connection, "cbnb")
               and jp.started_pids(connection, "cbstop"), timeout=20, message=pools.logs())
    (child,) = set(jp.started_pids(connection, "cbnb") + jp.started_pids(connection, "cbstop"))
    assert steps.stop(connection, [job.id], 60) == ["ok"]
    wait_until(lambda: jp.status(job) == JobStatus.STOPPED, timeout=20, message=pools.logs())
    # the job honoured the stop; its callback ran past the grace to its end, not killed
    assert jp.callback_steps(connection, job.id) == ["start", "end"]
    assert "stopped by request" in job.exc_info
    assert "did not stop within" not in job.exc_info
    jp.release(connection, "cbnb")
    wait_until(lambda: jp.status(neighbour) == JobStatus.FINISHED, timeout=10,
               message=pools.logs())
    assert jp.started_pids(connection, "cbnb") == [child]  # run once, in the same child
    assert jp.runs(connection, neighbour.id) == 1
    os.kill(child, 0)  # alive


def test_a_stop_during_the_success_callback_leaves_the_job_finished(connection, pq, pools):
    from django_jobqueue import Callback
    from django_jobqueue.engine import steps

    job = pq.enqueue(jp.noted, job_timeout=120,
                     on_success=Callback(jp.lingering_callback, timeout=30))
    pools.start_pool("pcs", 1, 1, "--grace", "1", "--worker-ttl", LONG_TTL)
    wait_until(lambda: jp.callback_steps(connection, job.id), timeout=20,
               message=pools.logs())
    assert steps.stop(connection, [job.id], 60) == ["ok"]  # its function has returned
    wait_until(lambda: jp.status(job) == JobStatus.FINISHED, timeout=20, message=pools.logs())
    assert jp.callback_steps(connection, job.id) == ["start", "end"]
    assert job.return_value() == int(
        connection.lindex(f"pool:callback:{job.id}", 0).split()[1])  # the same child
    assert jp.runs(connection, job.id) == 1


def test_a_stopped_jobs_callback_past_its_timeout_and_the_grace_leaves_it_stopped(
        connection, pq, pools):
    from django_jobqueue import Callback
    from django_jobqueue.engine import steps

    job = pq.enqueue(jp.held, "cbkill", job_timeout=120,
                     on_stopped=Callback(jp.stubborn_callback, timeout=1))
    pools.start_pool("pck", 1, 1, "--grace", "1", "--worker-ttl", LONG_TTL)
    wait_until(lambda: jp.started_pids(connection, "cbkill"), timeout=20, message=pools.logs())
    assert steps.stop(connection, [job.id], 60) == ["ok"]
    wait_until(lambda: jp.status(job) == JobStatus.STOPPED, timeout=20, message=pools.logs())
    assert jp.callback_steps(connection, job.id) == ["start"]  # the kill ended it
    assert "its on_stopped callback was still running 1 s past its timeout" in job.exc_info
    assert "did not stop within" not in job.exc_info
    assert jp.runs(connection, job.id) == 1


def test_a_killed_supervisor_takes_its_children_down(connection, pq, pools):
    job = pq.enqueue(jp.held, "orphan", job_timeout=120)
    proc = pools.start_pool("po", 1, 1, "--worker-ttl", "2")
    wait_until(lambda: jp.started_pids(connection, "orphan"), timeout=20)
    (child,) = jp.started_pids(connection, "orphan")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, timeout=5, message="the child outlived its supervisor")
    # the lease rule: a live worker takes the job back once the dead pool's lease lapsed
    pools.start_pool("po2", 1, 1)
    wait_until(lambda: len(jp.started_pids(connection, "orphan")) == 2, timeout=20,
               message=pools.logs())
    jp.release(connection, "orphan")
    wait_until(lambda: jp.status(job) == JobStatus.FINISHED, timeout=10)
    assert job.lost_count == 1
