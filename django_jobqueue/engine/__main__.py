"""``python -m django_jobqueue.engine worker QUEUE... --url redis://...``: a worker without
Django (tests, benchmarks and non-Django use)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from redis import Redis
from redis.exceptions import RedisError

from .logs import LOG_FORMATS, console_handler
from .pool import Supervisor
from .pool.cli import add_pool_arguments, pool_options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m django_jobqueue.engine")
    sub = parser.add_subparsers(dest="command", required=True)
    work = sub.add_parser("worker", help="run a worker")
    work.add_argument("queues", nargs="*", default=["default"])
    work.add_argument("--url", default="redis://localhost:6379/0")
    work.add_argument("--burst", action="store_true")
    work.add_argument("--name")
    work.add_argument("--max-jobs", type=int)
    work.add_argument("--worker-ttl", type=float)
    work.add_argument("--maintenance-interval", type=float, default=1.0)
    work.add_argument("--serializer")
    work.add_argument("--max-lost-attempts", type=int, default=3,
                      help="a job whose worker died this many times goes to failed")
    work.add_argument("--signing-key-file", metavar="FILE",
                      help="read the payload signing key from FILE (the same key as the "
                           "processes that enqueue; default: JOBQUEUE_SIGNING_KEY)")
    work.add_argument("--path", action="append", default=[], help="prepend to sys.path")
    work.add_argument("--init", metavar="MODULE.FUNC", action="append", default=[],
                      help="call this function before the worker starts (a pool: in the "
                           "supervisor, before its children fork), e.g. to set up Sentry "
                           "or OpenTelemetry; may be given more than once")
    work.add_argument("--periodic", metavar="MODULE.NAME",
                      help="run the periodic jobs of this list of PeriodicJob (dotted path)")
    add_pool_arguments(work)
    work.add_argument("--log-level", default="INFO")
    work.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                      help="text lines, or one JSON object a line (for log shippers)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(),
                        handlers=[console_handler(args.log_format)])
    sys.path[:0] = args.path
    from .queue import Queue
    from .serializers import set_signing_key
    from .utils import import_attribute
    from .worker import DEFAULT_WORKER_TTL, Worker

    if args.signing_key_file:
        try:
            with open(args.signing_key_file, "rb") as fh:
                set_signing_key(fh.read().strip())
        except (OSError, ValueError) as exc:
            print(f"Cannot use the signing key file {args.signing_key_file}: {exc}",
                  file=sys.stderr)
            return 2

    for name in args.init:  # the app's set-up (error reporting, tracing) comes first
        try:
            import_attribute(name)()
        except Exception as exc:
            print(f"--init {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    connection = Redis.from_url(args.url)
    try:
        connection.ping()
    except RedisError as exc:
        print(f"Cannot reach Redis at {args.url}: {exc}", file=sys.stderr)
        return 1
    queues = [Queue(name, connection=connection, serializer=args.serializer)
              for name in args.queues]
    options = dict(worker_ttl=args.worker_ttl or DEFAULT_WORKER_TTL,
                   maintenance_interval=args.maintenance_interval,
                   serializer=args.serializer, max_lost_attempts=args.max_lost_attempts)
    try:
        pool = pool_options(args)
        periodic = _periodic(args.periodic, args.serializer)
    except (ValueError, RuntimeError, TypeError, ImportError, AttributeError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if pool is None:
        worker = Worker(queues, connection=connection, name=args.name, periodic=periodic,
                        **options)
        worker.work(burst=args.burst, max_jobs=args.max_jobs)
        return 0
    if args.max_jobs is not None:
        print("--max-jobs applies with --processes 0; a pool recycles its children with "
              "--max-jobs-per-child", file=sys.stderr)
        return 2
    clients: dict[int, Redis] = {}

    def slot_worker(name: str) -> Worker:
        """In a child: its own client (pooled connections never cross a fork)."""
        client = clients.get(os.getpid())
        if client is None:
            client = clients[os.getpid()] = Redis.from_url(args.url)
        return Worker([Queue(q, connection=client, serializer=args.serializer)
                       for q in args.queues], connection=client, name=name, **options)

    Supervisor(slot_worker, args.queues, connection, pool, name=args.name,
               periodic=periodic, **options).run(burst=args.burst)
    return 0


def _periodic(path: str | None, serializer: str | None):
    """``--periodic module.NAME``: a list of PeriodicJob, as a runner (or None)."""
    if path is None:
        return None
    from .periodic.runner import as_runner
    from .utils import import_attribute

    try:
        jobs = import_attribute(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ImportError(f"--periodic {path}: cannot import it: {exc}") from exc
    if callable(jobs):
        jobs = jobs()
    return as_runner(jobs, serializer)


if __name__ == "__main__":
    sys.exit(main())
