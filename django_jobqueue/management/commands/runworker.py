"""``manage.py runworker [queue ...]``: a DjangoWorker over the named queues (strict priority
in the order given; default ``default``). SIGTERM/SIGINT: warm shutdown (the engine's)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...integration import settings
from ...integration.queues import get_worker
from .. import SETTINGS_ERRORS, unreachable

LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO}  # 2 and more: DEBUG
LOGGER = "django_jobqueue.worker"


class Command(BaseCommand):
    help = "Run a worker for the named queues (strict priority in the order given)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("queues", nargs="*", default=["default"], metavar="queue")
        parser.add_argument("--burst", action="store_true",
                            help="exit once the queues are empty")
        parser.add_argument("--name", help="the worker's name (default: host.pid.random)")
        parser.add_argument("--max-jobs", type=int, help="exit after this many jobs")
        parser.add_argument("--pid", metavar="FILE", help="write the process id to FILE")
        parser.add_argument("--serializer", help='"pickle", "json" or a dotted path')
        parser.add_argument("--worker-ttl", type=float,
                            help="seconds of the worker's lease (default 40)")

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = options["queues"] or ["default"]
        configure_logging(options["verbosity"])
        try:
            connection_name = settings.load().queue(names[0]).connection
            extra = {k: options[k] for k in ("name", "serializer", "worker_ttl")
                     if options[k] is not None}
            worker = get_worker(*names, **extra)
        except (*SETTINGS_ERRORS, ValueError) as exc:  # ValueError: e.g. a bad --serializer
            raise CommandError(str(exc)) from None
        problem = unreachable(connection_name)
        if problem:
            self.stderr.write(problem)
            sys.exit(1)
        if options["pid"]:
            with open(options["pid"], "w") as fh:
                fh.write(f"{os.getpid()}\n")
        worker.work(burst=options["burst"], max_jobs=options["max_jobs"])


def configure_logging(verbosity: int) -> None:
    """The worker's level from ``--verbosity``; a console handler unless LOGGING gave the
    worker's logger (or one above it) a handler."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(LOG_LEVELS.get(verbosity, logging.DEBUG))
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
