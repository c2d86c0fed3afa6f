"""Each periodic tick is enqueued exactly once with real pools on a real Redis: three pools
run a 1-second EVERY for ten seconds, one of them restarted on the way; the tick times the
jobs carry show no duplicate and no gap, and each job ran once."""

from __future__ import annotations

import signal
import time

from django_jobqueue.engine import keys
from tests.engine import jobs_periodic as jpd
from tests.engine import jobs_pool as jp
from tests.harness import wait_until

PERIODIC = ("--periodic", "tests.engine.jobs_periodic.EVERY_SECOND")


def _ran(connection) -> list[tuple[str, int]]:
    return [(entry.split()[0], int(entry.split()[1]))
            for entry in (e.decode() for e in connection.lrange(jpd.TICKS, 0, -1))]


def test_three_pools_enqueue_each_tick_once_with_no_gap(connection, pools):
    procs = [pools.start_pool(f"tick{n}", 1, 2, *PERIODIC, queue=jpd.QUEUE)
             for n in range(3)]
    wait_until(lambda: len(jp.records(connection, "pool")) == 3, timeout=30,
               message=pools.logs())  # all three up before the counting starts
    wait_until(lambda: len(_ran(connection)) >= 1, timeout=30, message=pools.logs())
    started = time.monotonic()
    wait_until(lambda: len(_ran(connection)) >= 4, timeout=30, message=pools.logs())
    procs[0].send_signal(signal.SIGTERM)  # a restart on the way: warm stop, then again
    assert procs[0].wait(timeout=30) == 0, pools.logs()
    procs[0] = pools.start_pool("tick0-again", 1, 2, *PERIODIC, queue=jpd.QUEUE)
    # ten seconds of ticks (the scenario's length), the restarted pool among the others
    wait_until(lambda: time.monotonic() - started >= 10 and len(_ran(connection)) >= 9,
               timeout=40, interval=0.2, message=pools.logs())
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(timeout=30) == 0, pools.logs()

    ran = _ran(connection)
    ticks = sorted(tick for _, tick in ran)
    assert len(ticks) >= 9, pools.logs()
    assert len(set(ticks)) == len(ticks), f"a tick ran twice: {ticks}"
    assert len({job_id for job_id, _ in ran}) == len(ran)
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), f"a gap: {ticks}"
    # every tick job that was enqueued is one of those (or the last, still queued)
    enqueued = {int(job_id.rsplit("-", 1)[1])
                for job_id in (i.decode() for i in connection.zrange(
                    keys.registry("finished", jpd.QUEUE), 0, -1))}
    enqueued |= {int(i.decode().rsplit("-", 1)[1])
                 for i in connection.zrange(keys.queue(jpd.QUEUE), 0, -1)}
    assert set(ticks) <= enqueued
    assert enqueued - set(ticks) <= {ticks[-1] + 1, ticks[-1] + 2}
