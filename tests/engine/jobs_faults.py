"""Job functions for the fault-injection tests (tests/engine/test_faults_*.py), and the
test-side helpers those two files share (worker subprocesses, where a job is, markers).

Worker subprocesses import this module as ``tests.engine.jobs_faults`` (cwd = repository root).
Test bookkeeping keys use their own ``faults:`` namespace; every test starts on a FLUSHALLed db.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from django_jobqueue import Worker, get_current_job
from django_jobqueue.engine import keys

ROOT = Path(__file__).resolve().parents[2]  # the repository root (cwd of worker processes)
QUEUE = "faults"
STARTED_KEY = "faults:started"  # list: "<tag>:<run>" pushed when a run of a tagged job begins


def runs_key(tag: str) -> str:
    return f"faults:runs:{tag}"


def release_key(tag: str) -> str:
    return f"faults:release:{tag}"


# --------------------------------------------------------------------------- job functions


def tracked(tag: str, hold_runs: int = 0, limit: float = 30.0) -> str:
    """Count this run, announce it on STARTED_KEY, and while ``run <= hold_runs`` stay in
    progress until the test sets ``release_key(tag)`` (polling, bounded by ``limit``; a
    Redis outage during the wait is tolerated). Returns ``"<tag>:<run>"``."""
    conn = get_current_job().connection
    run = conn.incr(runs_key(tag))
    conn.rpush(STARTED_KEY, f"{tag}:{run}")
    if run <= hold_runs:
        deadline = time.monotonic() + limit
        while True:
            try:
                if conn.exists(release_key(tag)):
                    break
            except (RedisConnectionError, RedisTimeoutError):
                pass  # Redis is down or our connection was dropped: keep waiting
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {tag} was never released")
            time.sleep(0.02)
    return f"{tag}:{run}"


# --------------------------------------------------------------------------- test helpers


class WorkerProcesses:
    """Starts ``python -m django_jobqueue.engine worker`` subprocesses; ``kill_all()`` (the
    fixture's finalizer) SIGKILLs whatever is still running."""

    def __init__(self, url: str, log_dir: Path, signing_key: str) -> None:
        self.url = url
        self.log_dir = log_dir
        self.signing_key = signing_key
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *extra: str, queue: str | list[str] = QUEUE
              ) -> subprocess.Popen:
        """``queue``: the queue served, or a list of them (in priority order)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["JOBQUEUE_SIGNING_KEY"] = self.signing_key
        env["JOBQUEUE_KEY_PREFIX"] = keys.prefix()
        command = [
            sys.executable, "-m", "django_jobqueue.engine", "worker",
            *([queue] if isinstance(queue, str) else queue),
            "--url", self.url, "--name", name,
            "--worker-ttl", "2", "--maintenance-interval", "0.2", *extra,
        ]  # fmt: skip
        if "--processes" not in extra:  # these tests are about one worker process
            command += ["--processes", "0"]
        with open(self.log_path(name), "ab") as log:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )
        self.procs[name] = proc
        return proc

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"worker-{name}.log"

    def log(self, name: str) -> str:
        try:
            return self.log_path(name).read_text(errors="replace")
        except OSError:
            return ""

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}" for name in self.procs)

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                pass


@contextmanager
def subprocesses(factory: type[WorkerProcesses], url: str, log_dir: Path, signing_key: str
                 ) -> Iterator[WorkerProcesses]:
    """A fixture's body: this test process signs with ``signing_key`` (as the subprocesses
    do); at the end every subprocess still running is SIGKILLed and their logs printed
    (pytest shows them when the test failed)."""
    from django_jobqueue.engine import serializers

    previous = serializers._signing_key
    serializers.set_signing_key(signing_key)
    procs = factory(url, log_dir, signing_key)
    try:
        yield procs
    finally:
        procs.kill_all()
        serializers._signing_key = previous
        print(procs.logs())


def where(conn, job_id: str, queue: str = QUEUE) -> list[str]:
    """Every place the job is in, read atomically: "queue" and/or registry kinds."""
    pipe = conn.pipeline(transaction=True)
    pipe.zscore(keys.queue(queue), job_id)
    for kind in keys.REGISTRY_KINDS:
        pipe.zscore(keys.registry(kind, queue), job_id)
    names = ["queue", *keys.REGISTRY_KINDS]
    return [name for name, score in zip(names, pipe.execute(), strict=True) if score is not None]


def run_count(conn, tag: str) -> int:
    return int(conn.get(runs_key(tag)) or 0)


def has_started(conn, tag: str, run: int = 1) -> bool:
    return f"{tag}:{run}".encode() in conn.lrange(STARTED_KEY, 0, -1)


def release(conn, tag: str) -> None:
    conn.set(release_key(tag), 1)


def worker_names(conn) -> set[str]:
    return {info.name for info in Worker.all(connection=conn)}


def blocked_in_blpop(conn) -> bool:
    """Some client (the idle worker) is blocked in its BLPOP wait right now."""
    return any(client.get("cmd") == "blpop" for client in conn.client_list())


def alive_until(proc: subprocess.Popen, until: float) -> bool:
    """wait_until predicate: the process must stay alive until the monotonic time ``until``."""
    assert proc.poll() is None, f"worker exited with {proc.returncode}"
    return time.monotonic() >= until


def kill_own_process() -> None:
    """A job that takes its worker down with it (like a segfault or an OOM kill)."""
    os._exit(1)


# --------------------------------------------------------------------------- executions counted
# (tests/engine/test_faults_reconnect.py)

EXEC_PREFIX = "faults:exec:"  # set per job: one member per execution of that job


def exec_key(job_id: str) -> str:
    return f"{EXEC_PREFIX}{job_id}"


def counted(duration: float = 0.01, limit: float = 30.0) -> str:
    """A job of about ``duration`` seconds that records each of its executions exactly once.

    Every execution draws a fresh token ("<worker>:<pid>:<random>") and SADDs it to
    ``exec_key(job id)``: redis-py resends a command on a dropped connection and this
    function retries its own write until it succeeds (bounded by ``limit``), and a resent
    SADD of the same token counts once, so the set has one member per execution, whatever
    the faults. A fault never makes the job itself fail. Returns the token."""
    import uuid

    from redis.exceptions import RedisError

    job = get_current_job()
    token = f"{job.worker_name}:{os.getpid()}:{uuid.uuid4().hex}"
    deadline = time.monotonic() + limit
    while True:
        try:
            job.connection.sadd(exec_key(job.id), token)
            break
        except (RedisError, OSError):  # dropped, reset, cut mid-reply, Redis restarting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    time.sleep(duration)  # the job's work
    return token
