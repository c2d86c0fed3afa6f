"""A worker's reconnect never makes a job run twice when no worker died and no lease lapsed.

The issue ("A reconnect runs a job twice"): two workers draining many short jobs; each time
their connections drop (``CLIENT KILL TYPE normal``, a Redis restart, a proxy that resets
connections or cuts a reply mid-way) several jobs ran two or three times, although nothing
died and no lease lapsed. Suspected cause: ``Worker._call_until_done`` reclaims the orphans
of a lost reply only after the retried call succeeded, and that call has already taken the
worker's next job, which the reclaim then puts back on the queue while this worker runs it.

Each test: two real worker subprocesses with the default lease (40 s, so no lease lapses)
drain ``N_JOBS`` jobs of about 10 ms (``jobs_faults.counted``, which records each execution
once, idempotently, in Redis) while the fault is injected repeatedly, once a second and only
while jobs are still queued. Then, once every job is settled, they check:

* the faults happened (kill counts, restarts, proxy counters, the workers' own log lines);
* the premise: no worker died, no lease lapsed (no job was taken back from a lost worker);
* nothing lost: every job ran, and is in exactly one place, the finished registry;
* the rule: **no job ran more than once**.

Every finding goes into one failure message (counts of jobs run twice / three times, the
duplicates' workers, the workers' warning lines); the ``workers`` fixture prints the tails
of the worker logs. A ``SUMMARY`` line is printed either way (``pytest -rA`` shows it).

Why ``N_JOBS`` is 2000 and not 400: two workers drain 400 jobs of 10 ms in about 2 s, too
soon for five faults one second apart; 2000 jobs take at least 10 s (10 ms each, two
workers), whatever the machine. Each fault is checked to hit while jobs are still queued.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from django_jobqueue import Job, JobStatus, Queue, Worker
from django_jobqueue.engine.worker import DEFAULT_WORKER_TTL
from tests.engine.jobs_faults import QUEUE, counted, exec_key
from tests.engine.proxy import FaultProxy
from tests.harness import RedisServer, RedisServerError, wait_until

pytestmark = pytest.mark.timeout(90)

N_JOBS = 2000
FAULTS = 5  # faults per run
SPACING = 1.0  # seconds between two faults
WARM_UP = 50  # jobs finished before the first fault
PROGRESS = 20  # jobs finished since the previous fault before the next one (workers are back)
NAMES = ("w1", "w2")
LOST = re.compile(r"connection lost", re.IGNORECASE)  # the worker's own line on a lost link


# --------------------------------------------------------------------------- helpers


def _tolerant(read: Callable[[], object], default: object = None) -> Callable[[], object]:
    """A wait_until predicate reading through the test's own client, which the faults hit
    too: a dropped connection is one more poll, not an error."""

    def predicate() -> object:
        try:
            return read()
        except (RedisError, OSError):
            return default

    return predicate


def _start_workers(connection, workers, url: str) -> None:
    """Two workers on ``url`` with the default lease (the helper's default is 2 s; the
    ``--url`` / ``--worker-ttl`` given here come last on the command line and win)."""
    for name in NAMES:
        workers.start(name, "--url", url, "--worker-ttl", str(DEFAULT_WORKER_TTL))

    def registered() -> bool:
        return {info.name for info in Worker.all(connection=connection)} >= set(NAMES)

    wait_until(_tolerant(registered), timeout=20,
               message=f"the workers never registered\n{workers.logs()}")


def _enqueue(fq: Queue) -> list[str]:
    jobs = fq.enqueue_many([Queue.prepare_data(counted) for _ in range(N_JOBS)])
    assert len(jobs) == N_JOBS
    return [job.id for job in jobs]


def _finished(fq: Queue) -> int:
    return fq.finished_job_registry.count


def _inject_while_busy(fq: Queue, workers, inject: Callable[[int], str],
                       faults: int = FAULTS) -> list[str]:
    """Inject ``faults`` faults, one second apart, each once the workers have made progress
    since the previous one and while jobs are still queued. Returns what each fault did."""
    wait_until(_tolerant(lambda: _finished(fq) >= WARM_UP, False), timeout=20,
               message=f"the workers are not processing jobs\n{workers.logs()}")
    done = []
    last_at, last_count = 0.0, 0
    for number in range(faults):
        wait_until(
            _tolerant(lambda at=last_at + SPACING, count=last_count + PROGRESS:
                      time.monotonic() >= at and _finished(fq) >= count, False),
            timeout=30,
            message=f"no progress after fault {number} ({done})\n{workers.logs()}")
        queued = fq.count
        assert queued > 0, (
            f"the jobs ran out before fault {number + 1} of {faults}: raise N_JOBS so that "
            f"every fault hits while jobs are being processed (done so far: {done})")
        done.append(f"{inject(number)} [queued {queued}]")
        last_at, last_count = time.monotonic(), _tolerant(lambda: _finished(fq), 0)()
    return done


def _settled(fq: Queue, connection) -> bool:
    """Every job finished or failed, none queued or started, and both workers idle (so the
    execution a worker may still have been running on a re-queued job is recorded too)."""
    if fq.count or fq.started_job_registry.count:
        return False
    if _finished(fq) + fq.failed_job_registry.count < N_JOBS:
        return False
    infos = {info.name: info for info in Worker.all(connection=connection)}
    return all(name in infos and infos[name].state == "idle" and not infos[name].current_job_id
               for name in NAMES)


def _interesting_log_lines(text: str, job_ids: list[str]) -> list[str]:
    """The lines worth reading: warnings, errors, and anything naming one of ``job_ids``."""
    keep = []
    for line in text.splitlines():
        if (" WARNING " in line or " ERROR " in line or "Traceback" in line
                or any(job_id in line for job_id in job_ids)):
            keep.append(line)
    return keep


def _check(fault: str, connection, fq: Queue, workers, job_ids: list[str],
           faults_done: list[str], fault_problems: list[str]) -> None:
    """Wait until everything is settled, then check (see the module docstring); one
    assertion with every finding at the end."""
    problems = list(fault_problems)
    try:
        wait_until(_tolerant(lambda: _settled(fq, connection), False), timeout=40)
    except AssertionError:
        problems.append(
            f"NOT SETTLED within 40 s: queued {fq.count}, started "
            f"{fq.started_job_registry.count}, finished {_finished(fq)}, failed "
            f"{fq.failed_job_registry.count}, workers "
            f"{[(i.name, i.state, i.current_job_id) for i in Worker.all(connection=connection)]}")

    # executions, as the jobs counted them
    pipe = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.smembers(exec_key(job_id))
    runs = dict(zip(job_ids, pipe.execute(), strict=True))
    per_job = Counter(len(tokens) for tokens in runs.values())
    executions = sum(len(tokens) for tokens in runs.values())
    duplicated = {job_id: sorted(t.decode().split(":")[0] for t in tokens)
                  for job_id, tokens in runs.items() if len(tokens) > 1}
    never = [job_id for job_id, tokens in runs.items() if not tokens]

    # where each job is, read through the engine's API
    places = {
        "queue": set(fq.get_job_ids()),
        "started": set(fq.started_job_registry.get_job_ids()),
        "finished": set(fq.finished_job_registry.get_job_ids()),
        "failed": set(fq.failed_job_registry.get_job_ids()),
        "deferred": set(fq.deferred_job_registry.get_job_ids()),
        "scheduled": set(fq.scheduled_job_registry.get_job_ids()),
        "canceled": set(fq.canceled_job_registry.get_job_ids()),
    }
    misplaced = {}
    for job_id in job_ids:
        found = [name for name, ids in places.items() if job_id in ids]
        if found != ["finished"]:
            misplaced[job_id] = found
    jobs = dict(zip(job_ids, Job.fetch_many(job_ids, connection=connection), strict=True))
    missing = [job_id for job_id, job in jobs.items() if job is None]
    not_finished = {job_id: job.get_status(refresh=False) for job_id, job in jobs.items()
                    if job is not None and job.get_status(refresh=False) != JobStatus.FINISHED}
    taken_back = {job_id: job.lost_count for job_id, job in jobs.items()
                  if job is not None and job.lost_count}
    attempts = Counter(job.attempts for job in jobs.values() if job is not None)

    # the workers' side
    logs = {name: workers.log(name) for name in NAMES}
    reconnects = {name: len(LOST.findall(logs[name])) for name in NAMES}
    exited = {name: proc.returncode for name, proc in workers.procs.items()
              if proc.poll() is not None}
    took_back_lines = [line for text in logs.values() for line in text.splitlines()
                       if "took back job(s)" in line]

    by_workers = Counter(",".join(names) for names in duplicated.values())
    summary = (
        f"SUMMARY fault={fault} jobs={len(job_ids)} executions={executions} "
        f"once={per_job.get(1, 0)} twice={per_job.get(2, 0)} thrice={per_job.get(3, 0)} "
        f"more={sum(n for k, n in per_job.items() if k > 3)} never={len(never)} "
        f"misplaced={len(misplaced)} not_finished={len(not_finished)} "
        f"missing={len(missing)} taken_back={len(taken_back)} "
        f"reconnects={reconnects} attempts={dict(sorted(attempts.items()))} "
        f"duplicates_by_workers={dict(by_workers)}"
    )
    print(summary)
    print("faults:", *faults_done, sep="\n  ")

    # the faults happened, with effect on both workers
    for name in NAMES:
        if not reconnects[name]:
            problems.append(f"FAULT NOT SEEN: worker {name} never logged "
                            f"{LOST.pattern!r}: did the fault reach it?")
    # the premise: nothing died, no lease lapsed
    if exited:
        problems.append(f"A WORKER DIED (exit codes {exited}): the premise is broken")
    if taken_back or took_back_lines:
        problems.append(
            f"A LEASE LAPSED: {len(taken_back)} job(s) were taken back from a 'lost' worker "
            f"(lost_count {dict(list(taken_back.items())[:10])}); lines: {took_back_lines[:5]}")
    # nothing lost, every job in exactly one place
    if never:
        problems.append(f"LOST: {len(never)} job(s) never ran, e.g. {never[:5]}")
    if misplaced or missing or not_finished:
        problems.append(
            f"NOT EXACTLY ONE PLACE / NOT FINISHED: {len(misplaced)} misplaced "
            f"{dict(list(misplaced.items())[:5])}, {len(missing)} missing {missing[:5]}, "
            f"{len(not_finished)} not finished {dict(list(not_finished.items())[:5])}")
    # the rule
    if duplicated:
        problems.append(
            f"RAN MORE THAN ONCE: {len(duplicated)} of {len(job_ids)} jobs "
            f"(twice: {per_job.get(2, 0)}, three times: {per_job.get(3, 0)}, more: "
            f"{sum(n for k, n in per_job.items() if k > 3)}; {executions} executions for "
            f"{len(job_ids)} jobs); run by {dict(by_workers)}; e.g. "
            f"{dict(list(duplicated.items())[:8])}")

    if problems:
        dup_ids = list(duplicated)[:3]
        excerpts = "\n".join(
            f"--- {name} ({len(logs[name].splitlines())} lines), warnings/errors and the "
            f"first duplicates' lines:\n"
            + "\n".join(_interesting_log_lines(logs[name], dup_ids)[-60:])
            for name in NAMES)
        pytest.fail("\n".join([*problems, summary, "faults:", *faults_done, excerpts]),
                    pytrace=False)


# --------------------------------------------------------------------------- CLIENT KILL


def test_client_kill_never_runs_a_job_twice(connection, fq, workers, redis_url):
    """Five ``CLIENT KILL TYPE normal SKIPME no``: every client's connection is dropped,
    the workers' and the test's own (redis-py reconnects it; the reply comes first)."""
    _start_workers(connection, workers, redis_url)
    job_ids = _enqueue(fq)
    kills: list[int] = []

    def kill(number: int) -> str:
        killed = int(connection.execute_command("CLIENT", "KILL", "TYPE", "normal",
                                                "SKIPME", "no"))
        kills.append(killed)
        return f"CLIENT KILL {number + 1}: {killed} connection(s) killed"

    done = _inject_while_busy(fq, workers, kill)
    problems = [f"FAULT NOT INJECTED: CLIENT KILL {n + 1} killed only {k} connection(s) "
                f"(the test's own at most)" for n, k in enumerate(kills) if k <= 1]
    _check("client-kill", connection, fq, workers, job_ids, done, problems)


# --------------------------------------------------------------------------- Redis restart


@pytest.fixture
def aof_server():
    """A private Redis whose data survive only through its AOF, fsynced at every write (no
    RDB: the harness passes ``--save ""``, and the restarts here never SHUTDOWN SAVE)."""
    server = RedisServer(extra_args=["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    try:
        yield server
    finally:
        server.close()


def _restart(server: RedisServer, how: str) -> tuple[int, int, float]:
    """Take the server down ``how`` and start it again on the same port and directory.
    Returns (old pid, new pid, seconds it was unreachable)."""
    old_pid = server.pid
    assert old_pid, f"the Redis server is not running before the {how}"
    began = time.monotonic()
    if how == "shutdown":
        client = redis.Redis(host=server.host, port=server.port,
                             retry=Retry(NoBackoff(), 0), socket_timeout=10)
        try:
            client.shutdown(nosave=True)  # AOF on: flushed and fsynced on the way out
        except RedisError as exc:  # redis-py returns quietly when the server hangs up
            pytest.fail(f"FAULT NOT INJECTED: SHUTDOWN NOSAVE failed: {exc}", pytrace=False)
        finally:
            client.close()
    elif how == "sigterm":
        os.kill(old_pid, signal.SIGTERM)
    elif how == "sigkill":
        server.kill()
    else:  # pragma: no cover
        raise ValueError(how)
    wait_until(lambda: not server.is_running, timeout=15,
               message=f"redis-server (pid {old_pid}) did not exit after {how}")
    try:
        server.start()  # same port and directory; returns once PING answers (AOF loaded)
    except RedisServerError as exc:
        pytest.fail(f"FAULT NOT INJECTED: Redis did not come back after {how}: {exc}",
                    pytrace=False)
    new_pid = server.pid
    assert new_pid and new_pid != old_pid, f"no new redis-server process after {how}"
    return old_pid, new_pid, time.monotonic() - began


@pytest.mark.parametrize("how", ["shutdown", "sigterm", "sigkill"])
def test_redis_restart_never_runs_a_job_twice(how, aof_server, workers):
    """Five restarts of Redis by ``how`` (SHUTDOWN NOSAVE / SIGTERM / SIGKILL), each on the
    same port; appendfsync always, so every acknowledged write survives even SIGKILL."""
    connection = redis.Redis.from_url(aof_server.url)
    try:
        fq = Queue(QUEUE, connection=connection)
        _start_workers(connection, workers, aof_server.url)
        job_ids = _enqueue(fq)
        restarts: list[tuple[int, int, float, int]] = []

        def restart(number: int) -> str:
            old_pid, new_pid, outage = _restart(aof_server, how)
            connection.connection_pool.disconnect()  # our sockets went to the old process
            # the data came back from the AOF: every job is still in one place (atomic read)
            pipe = connection.pipeline(transaction=True)
            pipe.zcard(fq.key)
            for registry in (fq.started_job_registry, fq.finished_job_registry,
                             fq.failed_job_registry):
                pipe.zcard(registry.key)
            placed = sum(pipe.execute())
            restarts.append((old_pid, new_pid, outage, placed))
            return (f"{how} {number + 1}: pid {old_pid} -> {new_pid}, down {outage:.2f} s "
                    f"(lease {DEFAULT_WORKER_TTL} s), {placed} jobs placed after the restart")

        done = _inject_while_busy(fq, workers, restart)
        problems = [f"DATA NOT KEPT by the AOF across {how} {n + 1}: {placed} of {N_JOBS} "
                    f"jobs in the queue or a registry"
                    for n, (_, _, _, placed) in enumerate(restarts) if placed != N_JOBS]
        if os.path.exists(aof_server.rdb_path):
            problems.append("an RDB file was written: the AOF is not what kept the data")
        _check(f"restart-{how}", connection, fq, workers, job_ids, done, problems)
    finally:
        connection.close()


# --------------------------------------------------------------------------- resetting proxy


@pytest.fixture
def proxy(redis_server, redis_url):
    """A FaultProxy in front of the session's Redis (requested before ``workers``, so the
    workers are killed before it closes)."""
    with FaultProxy(redis_server.host, redis_server.port) as running:
        yield running


def test_resetting_proxy_never_runs_a_job_twice(connection, fq, proxy, workers):
    """The workers reach Redis through a proxy that, once a second, alternately resets every
    connection (RST both ways) and cuts a reply mid-way (half of a server->client chunk of
    at least 64 bytes, i.e. a job-loop reply, then close): six faults, three of each. The
    test itself talks to Redis directly."""
    _start_workers(connection, workers, proxy.url)
    job_ids = _enqueue(fq)
    problems: list[str] = []

    def fault(number: int) -> str:
        if number % 2 == 0:
            reset = proxy.reset_all()
            if not reset:
                problems.append(f"FAULT NOT INJECTED: reset {number + 1} found no "
                                f"connection to reset")
            return f"reset {number + 1}: {reset} connection(s) reset"
        before = proxy.cuts
        proxy.cut_replies(count=1, min_bytes=64)
        try:
            wait_until(lambda: proxy.cuts > before, timeout=10)
        except AssertionError:
            problems.append(f"FAULT NOT INJECTED: cut {number + 1}: no reply of 64 "
                            f"bytes or more went through the proxy within 10 s")
        return f"cut {number + 1}: {proxy.cuts - before} reply cut mid-way"

    done = _inject_while_busy(fq, workers, fault, faults=6)
    if proxy.errors:
        problems.append(f"the proxy itself failed: {proxy.errors[:5]}")
    done.append(f"proxy: {proxy.accepted} connections accepted, {proxy.resets} reset, "
                f"{proxy.cuts} cut")
    _check("proxy", connection, fq, workers, job_ids, done, problems)
