"""Groups and limits with real pools on a real Redis (issue 11): a group of 1,000 jobs whose
on_complete runs exactly once while three pools finish them; a rate limit that no window
of its period ever exceeds while the queue's other jobs flow past; a concurrency limit
never exceeded; and a SIGKILLed worker whose slot is freed with its lease."""

from __future__ import annotations

import os
import signal

import pytest

from django_jobqueue import Group, Job, JobStatus, Queue
from django_jobqueue.engine import keys
from tests.engine import jobs_flow as jf
from tests.engine import jobs_pool as jp
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def fq(connection):
    return Queue(jf.QUEUE, connection=connection)


def _three_pools(pools, connection, threads=4):
    procs = [pools.start_pool(f"flow{n}", 1, threads, queue=jf.QUEUE) for n in range(3)]
    wait_until(lambda: len(jp.records(connection, "pool")) == 3, timeout=30,
               message=pools.logs())
    return procs


def _stop(pools, procs):
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(timeout=30) == 0, pools.logs()


def test_a_group_of_1000_completes_once_while_three_pools_finish_it(connection, fq, pools):
    group = Group.create(connection=connection, name="fanout", on_complete=jf.on_group_done,
                         on_success=jf.on_group_done, on_failure=jf.on_group_done)
    procs = _three_pools(pools, connection)
    created = group.enqueue_many(fq, [Queue.prepare_data(jf.counted, args=(str(n),))
                                      for n in range(1000)])
    wait_until(lambda: len(jf.callbacks(connection)) >= 2, timeout=120, message=pools.logs())
    wait_until(lambda: all(j.get_status() == JobStatus.FINISHED
                           for j in group.callback_jobs().values()), timeout=30)
    _stop(pools, procs)
    assert sorted(jf.callbacks(connection)) == ["on_complete fanout 1000",
                                                "on_success fanout 1000"]
    runs = connection.hgetall(jf.RUNS)
    assert len(runs) == 1000 and set(runs.values()) == {b"1"}
    assert {j.id.encode() for j in created} == set(runs)
    progress = group.progress()
    assert (progress.total, progress.pending, progress.finished) == (1000, 0, 1000)
    # every pool took part
    workers = {Job.fetch(j.id, connection=connection).worker_name.split(".")[0]
               for j in created[::10]}
    assert workers == {"flow0", "flow1", "flow2"}, workers


def test_a_rate_limit_holds_in_every_window_and_the_rest_of_the_queue_flows(
        connection, fq, pools):
    limited = fq.enqueue_many([Queue.prepare_data(jf.counted, rate_limit="20/s",
                                                  result_ttl=-1) for _ in range(200)])
    others = fq.enqueue_many([Queue.prepare_data(jf.other, result_ttl=-1)
                              for _ in range(50)])
    procs = _three_pools(pools, connection)
    wait_until(lambda: connection.llen(jf.OTHER) == 50, timeout=60, message=pools.logs())
    # the others are all done while most of the limited jobs still wait their turn
    assert int(connection.hlen(jf.RUNS)) < 150
    wait_until(lambda: fq.finished_job_registry.count == 250, timeout=60,
               message=pools.logs())
    _stop(pools, procs)
    starts = sorted(j.started_at.timestamp()
                    for j in Job.fetch_many([j.id for j in limited], connection=connection))
    assert len(starts) == 200
    for n, start in enumerate(starts):  # the 1-second window that opens at each start
        inside = sum(1 for s in starts[n:n + 21] if s < start + 1.0)
        assert inside <= 20, f"{inside} starts in the second from {start}"
    # and the limit was used, not just never reached: 200 starts took about 10 windows
    assert starts[-1] - starts[0] >= 9.0
    assert all(jf.runs(connection, j.id) == 1 for j in limited)
    assert all(Job.fetch(j.id, connection=connection).attempts == 1 for j in limited)
    assert len(others) == 50


def test_a_concurrency_limit_is_never_exceeded(connection, fq, pools):
    limited = fq.enqueue_many([Queue.prepare_data(jf.spanned, args=(0.05,),
                                                  concurrency_limit=2) for _ in range(60)])
    procs = _three_pools(pools, connection, threads=3)
    wait_until(lambda: len(jf.spans(connection)) == 60, timeout=90, message=pools.logs())
    _stop(pools, procs)
    events = []
    for _, start, end in jf.spans(connection):
        events += [(start, 1), (end, -1)]
    running = peak = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start
        running += change
        peak = max(peak, running)
    assert peak == 2, f"at most {peak} ran at once"
    assert all(jf.runs(connection, j.id) == 1 for j in limited)
    assert connection.scard(keys.limit_running("tests.engine.jobs_flow.spanned")) == 0


def test_a_sigkilled_worker_frees_its_concurrency_slot_with_its_lease(connection, fq, pools):
    holder = fq.enqueue(jf.held_until, "jqtest:flow:go", concurrency_limit=1,
                        limit_key="one-at-a-time")
    waiter = fq.enqueue(jf.counted, "waiter", concurrency_limit=1, limit_key="one-at-a-time")
    victim = pools.start("victim", queue=jf.QUEUE)
    wait_until(lambda: jf.runs(connection, holder.id) == 1, timeout=30, message=pools.logs())
    pools.start("survivor", queue=jf.QUEUE)
    wait_until(lambda: waiter.get_status() == JobStatus.SCHEDULED, timeout=30,
               message=pools.logs())
    assert connection.smembers(keys.limit_running("one-at-a-time")) == {holder.id.encode()}
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    connection.set("jqtest:flow:go", "1")  # the holder's next run ends at once
    wait_until(lambda: waiter.get_status() == JobStatus.FINISHED
               and holder.get_status() == JobStatus.FINISHED, timeout=60,
               message=pools.logs())
    assert jf.runs(connection, waiter.id) == 1
    assert jf.runs(connection, holder.id) == 2  # its worker died: run again, once
    assert Job.fetch(holder.id, connection=connection).lost_count == 1
    assert connection.scard(keys.limit_running("one-at-a-time")) == 0


def test_a_failed_parent_cancels_two_levels_on_a_pool_and_a_requeue_restores_them(
        connection, fq, pools):
    parent = fq.enqueue(jf.fails_until, "jqtest:flow:fixed", job_id="parent")
    child = fq.enqueue(jf.counted, "child", job_id="child", depends_on=parent)
    grandchild = fq.enqueue(jf.counted, "grandchild", job_id="grandchild", depends_on=child)
    procs = [pools.start_pool("cascade", 1, 2, queue=jf.QUEUE)]
    wait_until(lambda: grandchild.get_status() == JobStatus.CANCELED, timeout=30,
               message=pools.logs())
    assert parent.get_status() == JobStatus.FAILED
    assert Job.fetch("grandchild", connection=connection).canceled_reason == (
        "dependency parent failed for good (through child)")
    connection.set("jqtest:flow:fixed", "1")
    fq.failed_job_registry.requeue(parent)
    wait_until(lambda: grandchild.get_status() == JobStatus.FINISHED, timeout=30,
               message=pools.logs())
    _stop(pools, procs)
    assert (jf.runs(connection, "parent"), jf.runs(connection, "child"),
            jf.runs(connection, "grandchild")) == (2, 1, 1)
