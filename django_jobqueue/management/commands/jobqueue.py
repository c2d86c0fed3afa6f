"""``manage.py jobqueue stats|requeue|empty|suspend|resume|pause|periodic|enqueue``: operate the
queues of ``JOBQUEUE`` from a shell."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from ...engine import suspension
from ...engine.exceptions import InvalidJobOperation, NoSuchJobError
from ...engine.job import Job
from ...engine.keys import REGISTRY_KINDS
from ...integration import settings
from ...integration.clients import get_client
from ...integration.overview import read_overview
from ...integration.periodic import periodic_rows, periodic_summary
from ...integration.queues import get_queue
from .. import SETTINGS_ERRORS, unreachable

#: the columns of ``stats``
COUNTS = ("queued", *REGISTRY_KINDS, "workers")


class Command(BaseCommand):
    help = ("Inspect and operate the job queues: stats, requeue, empty, suspend, resume, pause, "
            "periodic, enqueue.")

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="action")
        stats = sub.add_parser("stats", help="job counts and workers per queue")
        stats.add_argument("--json", action="store_true", help="print JSON")
        requeue = sub.add_parser("requeue", help="put failed jobs back on their queue")
        requeue.add_argument("--queue", help="only this queue's failed jobs")
        requeue.add_argument("--all", action="store_true", help="every failed job")
        requeue.add_argument("job_ids", nargs="*", metavar="ID")
        empty = sub.add_parser("empty", help="delete every queued job of a queue")
        empty.add_argument("queue")
        suspend = sub.add_parser("suspend", help="workers take no new job until resumed")
        suspend.add_argument("--duration", type=float, help="seconds (default: until resume)")
        resume = sub.add_parser("resume", help="end a suspension; with QUEUE, resume that "
                                               "paused queue instead")
        resume.add_argument("queue", nargs="?", metavar="QUEUE")
        pause = sub.add_parser("pause", help="no worker takes from QUEUE until resumed "
                                             "(it still accepts jobs)")
        pause.add_argument("queue", metavar="QUEUE")
        periodic = sub.add_parser("periodic", help="list the periodic jobs (JOBQUEUE"
                                  "['PERIODIC']): schedule, next run, last run")
        periodic.add_argument("--json", action="store_true", help="print JSON")
        enqueue = sub.add_parser("enqueue", help="enqueue dotted.path(args); prints the job id")
        enqueue.add_argument("func", metavar="dotted.path")
        enqueue.add_argument("call_args", nargs="*", metavar="arg",
                             help="JSON literals, else strings")
        enqueue.add_argument("--queue", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            for name in self._connections(options):
                problem = unreachable(name)
                if problem:
                    raise CommandError(problem)
            getattr(self, f"do_{action}")(options)
        except SETTINGS_ERRORS as exc:  # e.g. an unknown queue: the message names the known
            raise CommandError(str(exc)) from None

    def _connections(self, options: dict[str, Any]) -> list[str]:
        config = settings.load()
        queue = options.get("queue")
        names = [queue] if queue else list(config.queues)
        return sorted({config.queue(name).connection for name in names})

    def do_stats(self, options: dict[str, Any]) -> None:
        stats = queue_stats()
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2, sort_keys=True))
            return
        width = max(len("queue"), *(len(name) for name in stats))
        self.stdout.write("queue".ljust(width) + "".join(f"{c:>11}" for c in COUNTS))
        for name, counts in stats.items():
            self.stdout.write(name.ljust(width) + "".join(f"{counts[c]:>11}" for c in COUNTS))

    def do_requeue(self, options: dict[str, Any]) -> None:
        if options["all"] == bool(options["job_ids"]):
            raise CommandError("Give either --all or one or more job ids")
        names = [options["queue"]] if options["queue"] else list(settings.load().queues)
        if options["all"]:
            total = sum(get_queue(name).failed_job_registry.requeue_all() for name in names)
            self.stdout.write(f"Requeued {total} job(s)")
            return
        errors = []
        done = 0
        for job_id in options["job_ids"]:
            try:
                self._requeue_one(job_id, options["queue"])
                done += 1
            except (InvalidJobOperation, NoSuchJobError, ValueError) as exc:
                errors.append(f"{job_id}: {exc}")
        self.stdout.write(f"Requeued {done} job(s)")
        if errors:
            raise CommandError("Not requeued: " + "; ".join(errors))

    def _requeue_one(self, job_id: str, queue_name: str | None) -> None:
        if queue_name is None:
            connection = get_client(settings.load().queue("default").connection)
            queue_name = Job.fetch(job_id, connection=connection).origin
            if queue_name not in settings.load().queues:
                raise ValueError(f"its queue {queue_name!r} is not configured")
        get_queue(queue_name).failed_job_registry.requeue(job_id)

    def do_empty(self, options: dict[str, Any]) -> None:
        removed = get_queue(options["queue"]).empty()
        self.stdout.write(f"Removed {removed} job(s) from {options['queue']}")

    def do_suspend(self, options: dict[str, Any]) -> None:
        for name in self._connections(options):
            suspension.suspend(get_client(name), options["duration"])
        until = f" for {options['duration']:g} s" if options["duration"] else " until resumed"
        self.stdout.write(f"Workers suspended{until}")

    def do_resume(self, options: dict[str, Any]) -> None:
        if options["queue"]:
            was = get_queue(options["queue"]).resume()
            self.stdout.write(f"Queue {options['queue']} "
                              + ("resumed" if was else "was not paused"))
            return
        for name in self._connections(options):
            suspension.resume(get_client(name))
        self.stdout.write("Workers resumed")

    def do_pause(self, options: dict[str, Any]) -> None:
        was = get_queue(options["queue"]).pause()
        self.stdout.write(f"Queue {options['queue']} "
                          + ("paused" if was else "was paused already"))

    def do_periodic(self, options: dict[str, Any]) -> None:
        rows = [periodic_summary(row) for row in periodic_rows()]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No periodic jobs (JOBQUEUE['PERIODIC'] is empty)")
            return
        columns = ("name", "schedule", "timezone", "queue", "enabled", "next_run",
                   "last_run", "last_status")
        widths = {c: max(len(c), *(len(str(r[c] or "-")) for r in rows)) for c in columns}
        self.stdout.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
        for r in rows:
            self.stdout.write("  ".join(str(r[c] if r[c] is not None else "-")
                                        .ljust(widths[c]) for c in columns).rstrip())

    def do_enqueue(self, options: dict[str, Any]) -> None:
        try:
            import_string(options["func"])
        except ImportError as exc:
            raise CommandError(f"Cannot import {options['func']}: {exc}") from None
        job = get_queue(options["queue"]).enqueue(
            options["func"], args=[parse_argument(a) for a in options["call_args"]])
        self.stdout.write(job.id)


def queue_stats() -> dict[str, dict[str, int]]:
    """Each configured queue's counts and live workers: one round trip per Redis server."""
    found = read_overview()
    if found.errors:  # it answered PING a moment ago
        raise CommandError("; ".join(f"Cannot read connection {name!r}: {error}"
                                     for name, error in sorted(found.errors.items())))
    return {counts.name: {"queued": counts.queued,
                          **{kind: getattr(counts, kind) for kind in REGISTRY_KINDS},
                          "workers": len(counts.workers)}
            for counts in found.counts}


def parse_argument(text: str) -> Any:
    """``3`` -> 3, ``[1, 2]`` -> [1, 2], ``"x"`` -> "x", ``hello`` -> "hello"."""
    try:
        return json.loads(text)
    except ValueError:
        return text
