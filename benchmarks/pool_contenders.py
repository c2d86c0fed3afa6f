"""The contenders of bench_pool.py: how each library's jobs are enqueued, how its worker pool
is started and stopped, and which Redis keys show its progress.

Every contender uses the queue ``bench`` on the benchmark's private Redis and its library's
defaults for everything not named here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import import_module

QUEUE = "bench"
WORKLOADS = {"noop": "no-op jobs", "io": "I/O-bound jobs: time.sleep(0.02)"}
FUNCS = {"noop": "noop", "io": "io_sleep"}  # job names in pool_jobs / pool_dramatiq / pool_celery
LIBS = ("jobqueue", "dramatiq", "celery", "rq")


def _script(name: str) -> list[str]:
    """A console script of the running interpreter's environment (the bench venv)."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    return [path] if os.path.exists(path) else [sys.executable, "-m", name]


def probe(env: dict) -> dict:
    """What the installed versions can do (run once, before anything is measured)."""

    def help_text(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout + out.stderr if out.returncode == 0 else ""

    ours = help_text([sys.executable, "-m", "django_jobqueue.engine", "worker", "--help"])
    rq_pool = help_text([*_script("rq"), "worker-pool", "--help"])
    return {
        "jobqueue_pool_flags": "--processes" in ours and "--threads" in ours,
        "rq_worker_pool": "--num-workers" in rq_pool,
    }


@dataclass
class Contender:
    """One library in one configuration, for one workload."""

    lib: str
    id: str  # for --only, e.g. "jobqueue-2x8"
    label: str  # table row
    workload: str
    processes: int
    threads: int
    stop: str = "burst"  # "burst": the workers exit by themselves; "sigterm": we stop them
    note: str = ""
    fallback: str = ""  # set when the intended command is not available in this install
    argvs: list[list[str]] = field(default_factory=list)  # filled by commands()
    extra: tuple[str, ...] = ()  # more flags for this contender's command

    @property
    def func(self) -> str:
        return FUNCS[self.workload]

    # ---- per library, overridden below
    def commands(self, url: str) -> list[list[str]]:
        raise NotImplementedError

    def enqueue(self, conn, n: int) -> None:
        raise NotImplementedError

    def progress_commands(self, conn) -> list[tuple]:
        """Commands run in one pipeline per poll; progress() reads their replies."""
        raise NotImplementedError

    def progress(self, replies: list, n: int) -> tuple[int, int, int]:
        """(done, failed, still queued) from the replies of progress_commands()."""
        raise NotImplementedError


#: our default logs one INFO line per job (as Celery, RQ and Sidekiq do); Dramatiq logs none
QUIET = ("--log-level", "WARNING")
QUIET_NOTE = ("--log-level WARNING: no per-job log line, as with Dramatiq's default "
              "(ours logs one INFO line per job by default)")


class Jobqueue(Contender):
    """``python -m django_jobqueue.engine worker bench --processes P --threads T --burst``.

    Done = finished + failed registry sizes (a job enters one when it has run)."""

    def commands(self, url: str) -> list[list[str]]:
        base = [sys.executable, "-m", "django_jobqueue.engine", "worker", QUEUE, "--url", url]
        if not self.fallback:
            flags = ["--processes", str(self.processes), "--threads", str(self.threads)]
            return [base + flags + list(self.extra) + ["--burst"]]
        return [base + ["--burst"] for _ in range(self.processes)]

    def enqueue(self, conn, n: int) -> None:
        from django_jobqueue import Queue

        func = getattr(import_module("benchmarks.pool_jobs"), self.func)
        q = Queue(QUEUE, connection=conn)
        q.enqueue_many([Queue.prepare_data(func, args=()) for _ in range(n)])

    def progress_commands(self, conn) -> list[tuple]:
        from django_jobqueue.engine import keys

        return [
            ("ZCARD", keys.registry("finished", QUEUE)),
            ("ZCARD", keys.registry("failed", QUEUE)),
            ("ZCARD", keys.queue(QUEUE)),
        ]

    def progress(self, replies: list, n: int) -> tuple[int, int, int]:
        finished, failed, queued = replies
        return finished + failed, failed, queued


class Rq(Contender):
    """``rq worker-pool -n P --burst`` (default Worker class: a fork per job), or P
    ``rq worker --burst`` processes where worker-pool is missing.

    Done = FinishedJobRegistry + FailedJobRegistry sizes."""

    def commands(self, url: str) -> list[list[str]]:
        rq = _script("rq")
        if not self.fallback:
            return [[*rq, "worker-pool", "-n", str(self.processes), "--burst", "-u", url, QUEUE]]
        return [[*rq, "worker", "--burst", "-u", url, QUEUE] for _ in range(self.processes)]

    def enqueue(self, conn, n: int) -> None:
        from rq import Queue

        func = getattr(import_module("benchmarks.pool_jobs"), self.func)
        q = Queue(QUEUE, connection=conn)
        datas = [Queue.prepare_data(func, args=()) for _ in range(n)]
        with conn.pipeline() as pipe:  # as RQ documents enqueue_many
            q.enqueue_many(datas, pipeline=pipe)
            pipe.execute()

    def progress_commands(self, conn) -> list[tuple]:
        from rq import Queue
        from rq.registry import FailedJobRegistry, FinishedJobRegistry

        return [
            ("ZCARD", FinishedJobRegistry(QUEUE, connection=conn).key),
            ("ZCARD", FailedJobRegistry(QUEUE, connection=conn).key),
            ("LLEN", Queue(QUEUE, connection=conn).key),
        ]

    def progress(self, replies: list, n: int) -> tuple[int, int, int]:
        finished, failed, queued = replies
        return finished + failed, failed, queued


class Dramatiq(Contender):
    """``dramatiq benchmarks.pool_dramatiq --processes P --threads T`` (no burst mode: it is
    sent SIGTERM once every job is done).

    Done = N - HLEN ``dramatiq:bench.msgs``: Dramatiq deletes a message's body from that hash
    when the worker acks it, after the actor returned (or moves it to the dead-letter queue
    ``bench.XQ``, counted as failed)."""

    def commands(self, url: str) -> list[list[str]]:
        return [
            [
                *_script("dramatiq"),
                "benchmarks.pool_dramatiq",
                "--processes",
                str(self.processes),
                "--threads",
                str(self.threads),
            ]
        ]

    def enqueue(self, conn, n: int) -> None:
        actor = getattr(import_module("benchmarks.pool_dramatiq"), self.func)
        for _ in range(n):
            actor.send()

    def progress_commands(self, conn) -> list[tuple]:
        ns = import_module("benchmarks.pool_dramatiq").broker.namespace
        return [
            ("HLEN", f"{ns}:{QUEUE}.msgs"),
            ("ZCARD", f"{ns}:{QUEUE}.XQ"),
            ("LLEN", f"{ns}:{QUEUE}"),
        ]

    def progress(self, replies: list, n: int) -> tuple[int, int, int]:
        pending, failed, queued = replies
        return n - pending, failed, queued


class Celery(Contender):
    """``celery -A benchmarks.pool_celery worker --pool POOL --concurrency C`` (sent SIGTERM,
    a warm shutdown, once every job was started).

    Done = N - LLEN ``bench`` - HLEN ``unacked``: with Celery's default early acknowledgement
    a message leaves kombu's ``unacked`` hash when a pool worker *starts* the task, and with
    no result backend nothing in Redis marks its end. So the marks are "started" marks: each
    is early by about one job's run time (~0 for no-op, <= 20 ms for I/O); the steady rate,
    a difference of two marks, is barely affected. The worker's CPU and the Redis counters
    include the tail, since the worker is stopped only after its warm shutdown."""

    def commands(self, url: str) -> list[list[str]]:
        pool = "prefork" if self.threads == 1 else "threads"
        conc = self.processes * self.threads
        return [
            [
                *_script("celery"),
                "-A",
                "benchmarks.pool_celery",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(conc),
            ]
        ]

    def enqueue(self, conn, n: int) -> None:
        mod = import_module("benchmarks.pool_celery")
        task = getattr(mod, self.func)
        with mod.app.producer_or_acquire() as producer:
            for _ in range(n):
                task.apply_async(producer=producer)

    def progress_commands(self, conn) -> list[tuple]:
        from kombu.transport.redis import Channel

        return [("LLEN", QUEUE), ("HLEN", Channel.unacked_key)]

    def progress(self, replies: list, n: int) -> tuple[int, int, int]:
        queued, unacked = replies
        return n - queued - unacked, 0, queued


def contenders(workload: str, caps: dict) -> list[Contender]:
    """The configurations of one workload (see benchmarks/README.md)."""
    jq_fallback = (
        ""
        if caps.get("jobqueue_pool_flags")
        else "this checkout's worker has no --processes/--threads: ran P separate "
        "single-threaded `worker --burst` processes instead"
    )
    rq_fallback = "" if caps.get("rq_worker_pool") else "no `rq worker-pool`: P `rq worker --burst`"
    rq_note = "rq worker-pool, default Worker class (forks a work horse per job)"
    if workload == "noop":
        return [
            Jobqueue("jobqueue", "jobqueue-2x1", "django-jobqueue 2 proc x 1 thr", workload, 2, 1,
                     fallback=jq_fallback),
            Jobqueue("jobqueue", "jobqueue-2x8", "django-jobqueue 2 proc x 8 thr", workload, 2, 8,
                     fallback=jq_fallback),
            Jobqueue("jobqueue", "jobqueue-2x8-quiet", "django-jobqueue 2 x 8, WARNING log",
                     workload, 2, 8, fallback=jq_fallback, extra=QUIET, note=QUIET_NOTE),
            Dramatiq("dramatiq", "dramatiq-2x8", "Dramatiq 2 proc x 8 thr", workload, 2, 8,
                     stop="sigterm"),
            Celery("celery", "celery-prefork2", "Celery prefork 2", workload, 2, 1,
                   stop="sigterm", note="prefork: Celery's default pool, 2 child processes"),
            Rq("rq", "rq-pool2", "RQ worker-pool 2", workload, 2, 1, note=rq_note,
               fallback=rq_fallback),
        ]
    return [
        Jobqueue("jobqueue", "jobqueue-2x16", "django-jobqueue 2 proc x 16 thr", workload, 2, 16,
                 fallback=jq_fallback),
        Jobqueue("jobqueue", "jobqueue-2x16-quiet", "django-jobqueue 2 x 16, WARNING log",
                 workload, 2, 16, fallback=jq_fallback, extra=QUIET, note=QUIET_NOTE),
        Dramatiq("dramatiq", "dramatiq-2x16", "Dramatiq 2 proc x 16 thr", workload, 2, 16,
                 stop="sigterm"),
        Celery("celery", "celery-threads32", "Celery threads 32", workload, 2, 16, stop="sigterm",
               note="Celery --pool threads --concurrency 32: one process, since a Celery "
               "worker has one pool type; threads are what a Celery user without "
               "gevent/eventlet runs for I/O-bound tasks (prefork 32 would be 32 processes)"),
        Rq("rq", "rq-pool2", "RQ worker-pool 2", workload, 2, 1, note=rq_note,
           fallback=rq_fallback),
    ]
