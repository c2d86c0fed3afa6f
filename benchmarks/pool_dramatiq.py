"""Dramatiq broker and actors for bench_pool.py: ``dramatiq benchmarks.pool_dramatiq``.

The broker is a RedisBroker on ``BENCH_REDIS_URL`` (the benchmark's private Redis); there is
deliberately no default, so that nothing here can reach a Redis the benchmark did not start.
Everything else is Dramatiq's default (middleware, namespace, prefetch).
"""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks import pool_jobs

QUEUE_NAME = "bench"

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE_NAME)
def noop():
    pool_jobs.noop()


@dramatiq.actor(queue_name=QUEUE_NAME)
def io_sleep():
    pool_jobs.io_sleep()
