"""``manage.py runworker [queue ...]``: a DjangoWorker over the named queues (strict priority
in the order given; default ``default``). SIGTERM/SIGINT: warm shutdown (the engine's)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from django import db
from django.core.management.base import BaseCommand, CommandError

from ...engine.logs import LOG_FORMATS, console_handler
from ...engine.pool import Supervisor
from ...engine.pool.cli import add_pool_arguments, pool_options
from ...integration import settings
from ...integration.periodic import periodic_runner
from ...integration.queues import get_worker
from ...integration.worker import DjangoWorker
from .. import SETTINGS_ERRORS, unreachable

LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO}  # 2 and more: DEBUG
LOGGER = "django_jobqueue.worker"


class Command(BaseCommand):
    help = "Run a worker for the named queues (strict priority in the order given)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("queues", nargs="*", default=["default"], metavar="queue")
        parser.add_argument("--burst", action="store_true",
                            help="exit once the queues are empty")
        parser.add_argument("--name", help="the pool's (or worker's) name (default: "
                            "host.pid.random)")
        parser.add_argument("--max-jobs", type=int, help="exit after this many jobs")
        parser.add_argument("--pid", metavar="FILE", help="write the process id to FILE")
        parser.add_argument("--serializer", help='"pickle", "json" or a dotted path')
        parser.add_argument("--worker-ttl", type=float,
                            help="seconds of the worker's lease (default 40)")
        parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                            help="text lines, or one JSON object a line (for log shippers); "
                                 "LOGGING's own handlers, when it has some, win")
        add_pool_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = options["queues"] or ["default"]
        configure_logging(options["verbosity"], options.get("log_format") or "text")
        try:
            connection_name = settings.load().queue(names[0]).connection
            extra = {k: options[k] for k in ("name", "serializer", "worker_ttl")
                     if options[k] is not None}
            worker = get_worker(*names, **extra)  # with a pool: its settings, no I/O
            periodic = periodic_runner(connection_name)
            pool = pool_options(argparse.Namespace(**options), reload_paths())
            if pool is not None and options["max_jobs"] is not None:
                raise ValueError("--max-jobs applies with --processes 0; a pool recycles its "
                                 "children with --max-jobs-per-child")
        except (*SETTINGS_ERRORS, ValueError, RuntimeError) as exc:
            # ValueError: e.g. a bad --serializer; RuntimeError: --reload without watchfiles
            raise CommandError(str(exc)) from None
        problem = unreachable(connection_name)
        if problem:
            self.stderr.write(problem)
            sys.exit(1)
        if options["pid"]:
            with open(options["pid"], "w") as fh:
                fh.write(f"{os.getpid()}\n")
        if pool is None:
            worker.periodic = periodic
            worker.work(burst=options["burst"], max_jobs=options["max_jobs"])
            return
        extra.pop("name", None)

        def slot_worker(slot_name: str) -> DjangoWorker:
            """Built in the child: its own Redis clients (clients.py makes them per process)."""
            return get_worker(*names, name=slot_name, **extra)

        Supervisor(slot_worker, names, worker.connection, pool, name=options["name"],
                   worker_ttl=worker.worker_ttl,
                   maintenance_interval=worker.maintenance_interval,
                   max_lost_attempts=worker.max_lost_attempts, serializer=worker.serializer,
                   before_fork=db.connections.close_all,
                   periodic=periodic).run(burst=options["burst"])


def reload_paths() -> tuple[str, ...]:
    """What ``--reload`` watches: the project (``BASE_DIR`` when the settings have one)."""
    from django.conf import settings as django_settings

    base = getattr(django_settings, "BASE_DIR", None)
    return (str(base),) if base else (os.getcwd(),)


def configure_logging(verbosity: int, log_format: str = "text") -> None:
    """The worker's level from ``--verbosity``; a console handler (text or JSON lines)
    unless LOGGING gave the worker's logger (or one above it) a handler."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(LOG_LEVELS.get(verbosity, logging.DEBUG))
    if not logger.hasHandlers():
        logger.addHandler(console_handler(log_format))
