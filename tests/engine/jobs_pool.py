"""Job functions for the pool tests (tests/engine/test_pool*.py), imported by the pool's
children as ``tests.engine.jobs_pool`` (cwd = repository root), and the helpers the two
test files share. Bookkeeping keys live under ``pool:``; every test starts on a FLUSHALLed
db."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

from django_jobqueue import get_current_job
from django_jobqueue.engine import keys
from tests.engine.jobs_faults import ROOT, WorkerProcesses

QUEUE = "pool"
RUNS = "pool:runs"  # hash: job id -> executions
WHO = "pool:who"  # hash: job id -> "<pid>:<thread>:<id get_current_job() gave>"
SPANS = "pool:spans"  # list of "<job id> <start> <end>" (wall clock)
BALLAST: list[bytes] = []  # what ``allocate`` keeps, so the child's memory stays grown


def _note() -> None:
    job = get_current_job()
    conn = job.connection
    conn.hincrby(RUNS, job.id, 1)
    conn.hset(WHO, job.id, f"{os.getpid()}:{threading.get_ident()}:{job.id}")


def noted(duration: float = 0.0) -> int:
    """Count this execution, say where it ran; returns the child's pid."""
    _note()
    if duration:
        time.sleep(duration)
    return os.getpid()


def held(tag: str, limit: float = 60.0) -> int:
    """Count this execution, then stay until the test sets ``pool:release:<tag>``."""
    _note()
    conn = get_current_job().connection
    conn.rpush(f"pool:started:{tag}", os.getpid())
    deadline = time.monotonic() + limit
    while not conn.exists(f"pool:release:{tag}"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {tag} was never released")
        time.sleep(0.02)
    return os.getpid()


def stubborn(seconds: float = 60.0) -> None:
    """Ignores its timeout: SIGALRM blocked, then a sleep (as code blocked in C would)."""
    _note()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)


def swallows_everything(seconds: float = 60.0) -> None:
    """Catches whatever is raised into it (a stop request included) and keeps going."""
    _note()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except BaseException:  # noqa: B036 (the point of this job)
            pass


def exits() -> None:
    """Takes its child down with it."""
    _note()
    os._exit(7)


def exits_cleanly() -> None:
    """Takes its child down with exit status 0 (still a crash: the child was not done)."""
    _note()
    os._exit(0)


def allocate(megabytes: int) -> int:
    _note()
    BALLAST.append(b"x" * (megabytes * 2**20))
    return os.getpid()


async def napping(seconds: float) -> str:
    """Records its span; returns the id get_current_job() gives inside the coroutine."""
    _note()
    start = time.time()
    await asyncio.sleep(seconds)
    job = get_current_job()
    job.connection.rpush(SPANS, f"{job.id} {start} {time.time()}")
    return job.id


def current_id() -> str:
    return get_current_job().id


class Pools(WorkerProcesses):
    """``python -m django_jobqueue.engine worker`` pools (``--processes`` given)."""

    def start_pool(self, name: str, processes: int, threads: int, *extra: str,
                   queue: str | list[str] = QUEUE):
        return self.start(name, "--processes", str(processes), "--threads", str(threads),
                          *extra, queue=queue)


def status(job):
    """The job as it is now, every field read in one go."""
    job.refresh()
    return job.get_status(refresh=False)


def records(conn, kind: str) -> dict[str, dict[str, str]]:
    """Worker records of this kind ('pool', 'child', 'slot'), by name."""
    found = {}
    for key in conn.scan_iter(keys.worker("*")):
        fields = {k.decode(): v.decode() for k, v in conn.hgetall(key).items()}
        if fields.get("kind") == kind:
            found[fields["name"]] = fields
    return found


def child_pids(conn) -> dict[str, int]:
    return {name: int(f["pid"]) for name, f in records(conn, "child").items()}


def runs(conn, job_id: str) -> int:
    return int(conn.hget(RUNS, job_id) or 0)


def started_pids(conn, tag: str) -> list[int]:
    return [int(p) for p in conn.lrange(f"pool:started:{tag}", 0, -1)]


def release(conn, tag: str) -> None:
    conn.set(f"pool:release:{tag}", 1)


def write_module(directory: Path, text: str) -> None:
    (directory / "pool_reloaded.py").write_text(text)


#: how long ``lingering_callback`` runs: longer than the ``--grace`` of the tests using it
CALLBACK_SECONDS = 3.0


def lingering_callback(job, connection, *args) -> None:
    """A callback (any kind) that runs CALLBACK_SECONDS; says when it started and ended."""
    connection.rpush(f"pool:callback:{job.id}", f"start {os.getpid()}")
    time.sleep(CALLBACK_SECONDS)
    connection.rpush(f"pool:callback:{job.id}", f"end {os.getpid()}")


def stubborn_callback(job, connection, *args) -> None:
    """A callback that ignores its timeout (as ``stubborn``): only the hard limit ends it."""
    connection.rpush(f"pool:callback:{job.id}", f"start {os.getpid()}")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(60)


def callback_steps(conn, job_id: str) -> list[str]:
    return [s.decode().split()[0] for s in conn.lrange(f"pool:callback:{job_id}", 0, -1)]


def spins(seconds: float) -> None:
    """Busy in Python code (a soft timeout reaches it between two bytecodes, on any thread)."""
    _note()
    conn = get_current_job().connection
    conn.rpush("pool:spinning", os.getpid())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


__all__ = ["ROOT"]
