"""Celery app and tasks for bench_pool.py: ``celery -A benchmarks.pool_celery worker``.

The broker is ``BENCH_REDIS_URL`` (the benchmark's private Redis; no default on purpose).
No result backend is configured and ``task_ignore_result`` is on, so a task's only Redis
traffic is the broker's. Everything else is Celery's default (prefetch multiplier 4, early
acknowledgement, mingle/gossip/heartbeat on).
"""

import os

from celery import Celery

from benchmarks import pool_jobs

QUEUE_NAME = "bench"

app = Celery("benchmarks.pool_celery", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(
    task_ignore_result=True,
    task_default_queue=QUEUE_NAME,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop():
    pool_jobs.noop()


@app.task(name="bench.io_sleep")
def io_sleep():
    pool_jobs.io_sleep()
