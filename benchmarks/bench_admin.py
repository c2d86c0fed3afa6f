#!/usr/bin/env python3
"""Speed of the admin pages on a big queue: wall time and Redis round trips per page.

Run from the repository root (Django, redis-py and, ideally, hiredis installed)::

    python3 benchmarks/bench_admin.py                          # 1,000,000 queued + 100,000 failed
    python3 benchmarks/bench_admin.py --queued 20000 --failed 2000 --rounds 10   # quick run
    python3 benchmarks/bench_admin.py --profile failed_p1      # + cProfile of one request
    python3 benchmarks/bench_admin.py --json results.json      # + every figure as JSON

What it does (the pages are requested in this process; Redis, workers and the populating
run in child processes):

* starts a private ``redis-server`` (from ``PATH``, or ``--redis-server``) on a free loopback
  port, persistence off, in a temp dir removed at the end (also on Ctrl-C / SIGTERM, which
  stop the workers too); the system Redis on 6379 is never touched;
* configures Django with ``settings.configure``: admin, auth, contenttypes, sessions,
  messages, staticfiles and django_jobqueue, SQLite in memory, ``DEBUG = False``, the admin
  at ``/admin/``, and ``JOBQUEUE`` with one connection to that Redis and 50 queues
  (``q00`` .. ``q48`` and ``big``); runs ``migrate``, creates a superuser and logs a
  ``django.test.Client`` in with ``force_login``;
* starts ``--workers`` idle workers (default 4) serving the ``q..`` queues (never ``big``),
  so that the dashboard and the workers page have live workers to show;
* measures every page on the empty queue ("empty"), then with ``--small`` (100) failed and
  100 queued jobs, then, the queued ones emptied, populates ``big`` and measures again:
  first the failed jobs (``--failed``, default 100,000 in all) enqueued with
  ``enqueue_many`` and failed for real by ``--fail-workers`` burst workers (the engine's own
  fail path: hash fields, results entry, ``failed:big`` zset scored by expiry; checked to
  have failed with the benchmark's own error), then ``--queued`` no-op jobs (default
  1,000,000) enqueued with ``Queue.enqueue_many`` in batches of 10,000. Populating runs in a
  child process, so that the measured process does not carry its heap;
* per page: ``--warmup`` requests (default 2), then ``--rounds`` timed ``client.get`` calls
  (default 20; each must answer 200), reporting the median and p95 wall time, the Redis
  round trips of one request and the commands Redis ran for it (``INFO commandstats``,
  Lua-internal commands included, median);
* prints a reStructuredText grid table (paste into README.rst) and, per page the issue names
  (dashboard, queue pages, failed tab), whether the 200 ms median target is met, and whether
  the round trips with the full population equal those with the small one. It reports, it
  does not assert: the exit status is 0 unless a page did not answer 200.

The machine's load average is printed: other work on the machine shows in the p95 column.

Round trips are counted in this process by wrapping redis-py's
``AbstractConnection.send_packed_command`` while a measured request runs: one call per
command sent alone, one per pipeline ``execute()`` and one per streamed batch of scripts, so
a pipelined fetch of a page's jobs counts as one round trip.

A page slower than the target (or any page named with ``--profile``, ``all`` for every page)
is profiled: cProfile of one request, django_jobqueue's functions by cumulative time, then
every function by cumulative and by own time.

Memory: the full run keeps about 1.1 million job hashes in Redis (see the ``used_memory``
line: 1.3 GB with redis-server 6.2 / libc malloc, 1.15 GB with 7.0 / jemalloc). A full run
takes about 3 minutes on 2 cores, most of it populating.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types
from importlib import metadata

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from benchmarks.bench_engine import PrivateRedis, grid_table, percentile  # noqa: E402
from benchmarks.bench_engine import machine_info as engine_machine_info  # noqa: E402

TARGET_MS = 200.0
BIG = "big"
SMALL_QUEUES = [f"q{i:02d}" for i in range(49)]
QUEUE_NAMES = [*SMALL_QUEUES, BIG]  # 50 configured queues
NOOP_PATH = "benchmarks.jobs.noop"
FAILING_PATH = "benchmarks.bench_admin.failing_job"
URLS_MODULE = "benchmarks._bench_admin_urls"  # made in memory by configure_django()
BATCH = 10_000
#: every process (this one through Django's setting, workers through the environment) signs
#: and verifies job payloads with this key
SIGNING_KEY = "django-jobqueue-admin-benchmark"
ADMIN = "/admin/django_jobqueue"


def failing_job(n: int = 0) -> None:
    """The job the failed jobs ran (imported by the burst workers)."""
    raise RuntimeError(f"benchmark failure #{n}")


# --------------------------------------------------------------------------- round trips


class RoundTrips:
    """Counts redis-py sends (= round trips) made in this process while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.count = 0
        self._original = None

    def install(self) -> None:
        from redis.connection import AbstractConnection

        original = AbstractConnection.send_packed_command
        counter = self

        def send_packed_command(conn, command, check_health=True):
            if counter.on:
                counter.count += 1
            return original(conn, command, check_health)

        self._original = original
        AbstractConnection.send_packed_command = send_packed_command

    def uninstall(self) -> None:
        if self._original is not None:
            from redis.connection import AbstractConnection

            AbstractConnection.send_packed_command = self._original
            self._original = None


ROUND_TRIPS = RoundTrips()


def commands_run(conn) -> int:
    """Commands Redis has run so far (Lua-internal ones included)."""
    info = conn.info("commandstats")
    return sum(v["calls"] for k, v in info.items() if k.startswith("cmdstat_"))


# --------------------------------------------------------------------------- Django


def configure_django(url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-jobqueue-admin-benchmark",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django_jobqueue",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF=URLS_MODULE,
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        STATIC_URL="/static/",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        JOBQUEUE={
            "SIGNING_KEY": SIGNING_KEY,
            "CONNECTIONS": {"default": {"URL": url}},
            "QUEUES": {name: {} for name in QUEUE_NAMES},
        },
    )
    django.setup()

    from django.contrib import admin
    from django.urls import path

    urls = types.ModuleType(URLS_MODULE)
    urls.urlpatterns = [path("admin/", admin.site.urls)]
    sys.modules[URLS_MODULE] = urls


def logged_in_client():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- workers


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    env["JOBQUEUE_SIGNING_KEY"] = SIGNING_KEY
    env.pop("JOBQUEUE_KEY_PREFIX", None)
    return env


WORKER_SCRIPT = (
    "import sys, redis\n"
    "from django_jobqueue.engine import Worker, Queue\n"
    "c = redis.Redis.from_url(sys.argv[1])\n"
    "Worker([Queue(n, connection=c) for n in sys.argv[3].split(',')], connection=c)"
    ".work(burst=sys.argv[2] == '1')\n"
)


def spawn_worker(url: str, queues: list[str], burst: bool, log: str) -> subprocess.Popen:
    with open(log, "ab") as logf:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, url, "1" if burst else "0", ",".join(queues)],
            cwd=REPO_ROOT, env=_env(), stdout=logf, stderr=subprocess.STDOUT,
        )


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- population


def populate(conn, n_queued: int, n_failed: int, fail_workers: int, url: str, logdir: str,
             timeout: float, say) -> dict:
    from django_jobqueue.engine import Queue, keys

    q = Queue(BIG, connection=conn)
    out: dict = {}
    failed_before = conn.zcard(keys.registry("failed", BIG))
    queued_before = conn.zcard(keys.queue(BIG))
    if n_failed:
        if queued_before:
            raise RuntimeError(f"queue {BIG!r} must be empty before jobs are failed in it")
        t0 = time.perf_counter()
        for start in range(0, n_failed, BATCH):
            q.enqueue_many([Queue.prepare_data(FAILING_PATH, args=(i,))
                            for i in range(start, min(n_failed, start + BATCH))])
        t1 = time.perf_counter()
        procs = [spawn_worker(url, [BIG], True, os.path.join(logdir, f"fail-worker-{i}.log"))
                 for i in range(max(1, fail_workers))]
        try:
            deadline = time.monotonic() + timeout
            for proc in procs:
                rc = proc.wait(max(1.0, deadline - time.monotonic()))
                if rc != 0:
                    raise RuntimeError(f"burst worker exited with {rc}; logs in {logdir}")
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"burst workers did not fail {n_failed} jobs within "
                               f"{timeout:.0f}s; logs in {logdir}") from None
        finally:
            for proc in procs:
                stop_process(proc)
        t2 = time.perf_counter()
        failed = conn.zcard(keys.registry("failed", BIG))
        if failed != failed_before + n_failed or conn.zcard(keys.queue(BIG)):
            raise RuntimeError(f"expected {failed_before + n_failed} failed jobs, found {failed} "
                               f"(and {conn.zcard(keys.queue(BIG))} still queued)")
        sample = conn.zrange(keys.registry("failed", BIG), -1, -1)[0]
        exc_info = conn.hget(keys.job(sample.decode()), "exc_info") or b""
        if b"benchmark failure" not in exc_info:
            raise RuntimeError(f"a failed job failed for another reason: {exc_info[-300:]!r}")
        out["failed_enqueue_s"] = t1 - t0
        out["failed_work_s"] = t2 - t1
        say(f"   {n_failed:,} failed jobs: enqueued in {t1 - t0:.1f}s, failed by "
            f"{len(procs)} burst worker(s) in {t2 - t1:.1f}s ({n_failed / (t2 - t1):,.0f}/s)")
    if n_queued:
        t0 = time.perf_counter()
        for start in range(0, n_queued, BATCH):
            q.enqueue_many([Queue.prepare_data(NOOP_PATH)
                            for _ in range(min(BATCH, n_queued - start))])
        t1 = time.perf_counter()
        queued = conn.zcard(keys.queue(BIG))
        if queued != queued_before + n_queued:
            raise RuntimeError(f"expected {queued_before + n_queued} queued jobs, found {queued}")
        out["queued_s"] = t1 - t0
        say(f"   {n_queued:,} queued jobs: enqueue_many in {t1 - t0:.1f}s "
            f"({n_queued / (t1 - t0):,.0f}/s)")
    return out


def populate_elsewhere(url: str, n_queued: int, n_failed: int, fail_workers: int,
                       logdir: str, timeout: float, say) -> dict:
    """:func:`populate` in a child process, so that the measured process does not carry the
    heap of a million enqueues (a web server process would not)."""
    spec = json.dumps({"url": url, "n_queued": n_queued, "n_failed": n_failed,
                       "fail_workers": fail_workers, "logdir": logdir, "timeout": timeout})
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--_populate", spec],
                            cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    result, lines = None, []
    try:
        for line in proc.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
            else:
                lines.append(line)
                say(line.rstrip("\n"))
        rc = proc.wait()
    finally:
        stop_process(proc)
        proc.stdout.close()
    if rc != 0 or result is None:
        raise RuntimeError(f"populating failed (exit {rc}):\n{''.join(lines[-40:])}")
    return result


def _populate_main(spec: str) -> int:
    import redis

    args = json.loads(spec)
    conn = redis.Redis.from_url(args["url"])
    out = populate(conn, args["n_queued"], args["n_failed"], args["fail_workers"], args["url"],
                   args["logdir"], args["timeout"], lambda *a: print(*a, flush=True))
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------- measuring


class PageError(RuntimeError):
    pass


def _get(client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        body = response.content[:500].decode("utf-8", "replace")
        raise PageError(f"GET {url} -> {response.status_code}: {body}")
    return response


def measure(client, conn, url: str, rounds: int, warmup: int) -> dict:
    for _ in range(warmup):
        _get(client, url)
    times, trips, cmds = [], [], []
    # what one INFO call itself adds (the least of a few: idle workers run commands too)
    overhead = min(-commands_run(conn) + commands_run(conn) for _ in range(5))
    response = None
    for _ in range(rounds):
        before = commands_run(conn)
        ROUND_TRIPS.count = 0
        ROUND_TRIPS.on = True
        t0 = time.perf_counter()
        try:
            response = client.get(url)
        finally:
            elapsed = time.perf_counter() - t0
            ROUND_TRIPS.on = False
        cmds.append(commands_run(conn) - before - overhead)
        if response.status_code != 200:
            body = response.content[:500].decode("utf-8", "replace")
            raise PageError(f"GET {url} -> {response.status_code}: {body}")
        times.append(elapsed * 1000.0)
        trips.append(ROUND_TRIPS.count)
    times.sort()
    content = response.content
    return {
        "url": url,
        "median_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
        "min_ms": times[0],
        "max_ms": times[-1],
        "round_trips": sorted(set(trips)),
        "redis_cmds": statistics.median(cmds),
        "rows": content.count(b"data-job-id=") or content.count(b"data-worker=") or None,
        "bytes": len(content),
    }


def profile_one(client, url: str, top: int = 20) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    t0 = time.perf_counter()
    _get(client, url)
    elapsed = (time.perf_counter() - t0) * 1000.0
    profiler.disable()
    out = io.StringIO()
    out.write(f"cProfile of one GET {url} ({elapsed:.1f} ms under the profiler)\n")
    out.write("-- django_jobqueue's functions, by cumulative time\n")
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
        r"django_jobqueue[/\\](?!.*bench)", top)
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    out.write("-- all functions, by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top + 10)
    out.write("-- all functions, by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def pages(job_ids: dict, mid_page: int, failed_mid_page: int,
          failed_last_page: int) -> list[tuple[str, str, str, bool]]:
    """(key, label, url, named by the issue)."""
    q = f"{ADMIN}/queue/{BIG}"
    rows = [
        ("dashboard", "dashboard (50 queues)", f"{ADMIN}/queue/", True),
        ("queue_p1", f"queue {BIG!r}, page 1", f"{q}/", True),
        ("queue_mid", f"queue {BIG!r}, page {mid_page:,}", f"{q}/?page={mid_page}", True),
        ("queue_p1_500", f"queue {BIG!r}, page 1, per_page=500", f"{q}/?per_page=500", False),
        ("queue_oldest", f"queue {BIG!r}, order=oldest", f"{q}/?order=oldest", False),
        ("failed_p1", "failed tab, page 1", f"{q}/failed/", True),
        ("failed_mid", f"failed tab, page {failed_mid_page:,}",
         f"{q}/failed/?page={failed_mid_page}", True),
        ("failed_last", f"failed tab, page {failed_last_page:,} (last)",
         f"{q}/failed/?page={failed_last_page}", True),
        ("search_nomatch", "queue search, no match (q=)", f"{q}/?q=no-such-function", False),
        ("job_queued", "job page (queued job)",
         f"{q}/job/{job_ids['queued']}/" if job_ids.get("queued") else "", False),
        ("job_failed", "job page (failed job)",
         f"{q}/job/{job_ids['failed']}/" if job_ids.get("failed") else "", False),
        ("workers", "workers", f"{ADMIN}/worker/", False),
        ("stats", "stats.json", f"{ADMIN}/queue/-/stats.json", False),
        ("metrics", "metrics", f"{ADMIN}/queue/-/metrics", False),
    ]
    return rows


def run_pages(client, conn, page_list, args, say, phase: str) -> dict:
    results = {}
    for key, label, url, _named in page_list:
        if not url:
            results[key] = {"skipped": "no such job in this phase"}
            continue
        try:
            results[key] = measure(client, conn, url, args.rounds, args.warmup)
            r = results[key]
            say(f"   [{phase}] {label:<38} {r['median_ms']:8.1f} ms  p95 {r['p95_ms']:8.1f} ms"
                f"  round trips {','.join(map(str, r['round_trips']))}"
                f"  cmds {r['redis_cmds']:.0f}")
        except Exception as e:  # noqa: BLE001 (reported, and the exit status says so)
            text = str(e) if isinstance(e, PageError) else f"GET {url}: {type(e).__name__}: {e}"
            results[key] = {"error": text}
            say(f"   [{phase}] {label}: ERROR {text.splitlines()[0]}")
    return results


def rows_per_page(client) -> int:
    """The default page size, read off page 1 of the queue."""
    try:
        content = _get(client, f"{ADMIN}/queue/{BIG}/").content
    except Exception:  # noqa: BLE001
        return 25
    return max(1, content.count(b"data-job-id="))


def dashboard_counts(client) -> str:
    """What the dashboard says about ``big`` (a sanity check of the populated data)."""
    try:
        html = _get(client, f"{ADMIN}/queue/").content.decode("utf-8", "replace")
    except Exception as e:  # noqa: BLE001
        return f"dashboard unavailable ({str(e).splitlines()[0]})"
    row = re.search(r'<tr[^>]*data-queue="big".*?</tr>', html, re.S)
    if not row:
        return "row of 'big' not found on the dashboard"
    found = []
    for state in ("queued", "failed"):
        cell = re.search(rf'data-state="{state}"[^>]*>(.*?)</td>', row.group(0), re.S)
        text = re.sub(r"<[^>]+>", "", cell.group(1)).strip() if cell else "?"
        found.append(f"{state}={text}")
    return ", ".join(found)


# --------------------------------------------------------------------------- output


def machine_info(conn) -> dict:
    """bench_engine's machine description, plus what matters for pages: memory, hiredis,
    Django and the load average (RQ is not part of this benchmark)."""
    info = engine_machine_info(conn)
    info.pop("rq", None)
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    for dist in ("hiredis", "django"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = "not installed"
    info["memory"] = mem
    info["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def render(page_list, full: dict, empty: dict, small: dict, n_small: int) -> str:
    header = ["page", "median ms", "p95 ms",
              f"round trips (full / empty / {n_small}+{n_small})", "Redis cmds",
              f"median ms with {n_small}+{n_small}", "200 ms target"]

    def trips(r: dict) -> str:
        return ",".join(map(str, r["round_trips"])) if "round_trips" in r else "-"

    rows = []
    for key, label, _url, named in page_list:
        r, e, s = full.get(key, {}), empty.get(key, {}), small.get(key, {})
        if "error" in r:
            rows.append([label, "ERROR", "", "", "", "", "see below"])
            continue
        if "median_ms" not in r:
            continue
        met = "met" if r["median_ms"] < TARGET_MS else "NOT met"
        rows.append([
            label,
            f"{r['median_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            f"{trips(r)} / {trips(e)} / {trips(s)}",
            f"{r['redis_cmds']:.0f}",
            f"{s['median_ms']:.1f}" if "median_ms" in s else "-",
            met if named else f"({met})",
        ])
    return grid_table(header, rows)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)  # clean up (workers, Redis) as on Ctrl-C
    if argv[:1] == ["--_populate"]:  # the child process of populate_elsewhere()
        return _populate_main(argv[1])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queued", type=int, default=1_000_000,
                    help="queued jobs in queue 'big' (default 1,000,000)")
    ap.add_argument("--failed", type=int, default=100_000,
                    help="failed jobs in queue 'big' (default 100,000)")
    ap.add_argument("--rounds", type=int, default=20, help="timed requests per page (20)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed requests per page first (2)")
    ap.add_argument("--workers", type=int, default=4,
                    help="idle workers serving the q.. queues during the measurements (4)")
    ap.add_argument("--fail-workers", type=int, default=2,
                    help="burst workers that fail the --failed jobs (2)")
    ap.add_argument("--fail-timeout", type=float, default=600.0,
                    help="seconds allowed for failing the --failed jobs (600)")
    ap.add_argument("--small", type=int, default=100,
                    help="queued and failed jobs of the 'small' measurement, made before the "
                         "full population (100)")
    ap.add_argument("--skip-empty", action="store_true",
                    help="measure only the populated queue (no 'empty' and 'small' runs)")
    ap.add_argument("--profile", action="append", default=[], metavar="PAGE",
                    help="also cProfile one request of PAGE, or of 'all' (pages missing the "
                         "target always are): " + ", ".join(k for k, *_ in pages({}, 2, 2, 3)))
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    ap.add_argument("--redis-server", default="redis-server", help="redis-server binary")
    args = ap.parse_args(argv)
    if args.queued < 0 or args.failed < 0 or args.rounds < 1:
        ap.error("--queued/--failed must be >= 0 and --rounds >= 1")

    def say(*a):
        print(*a, flush=True)

    import redis

    server = PrivateRedis(args.redis_server).start()
    logdir = tempfile.mkdtemp(prefix="jobqueue-bench-admin-logs-")
    workers: list[subprocess.Popen] = []
    failed_pages = False
    try:
        conn = redis.Redis.from_url(server.url)
        info = machine_info(conn)
        say("Machine: nproc={nproc}  cpu={cpu}  memory={memory}".format(**info))
        say("Python {python}  Django {django}  redis-server {redis_server}  redis-py {redis_py}"
            "  hiredis {hiredis}".format(**info))
        say(f"Private Redis: {server.url}   queued={args.queued:,}  failed={args.failed:,}  "
            f"queues={len(QUEUE_NAMES)}  rounds={args.rounds}  warm-up={args.warmup}")

        configure_django(server.url)
        client = logged_in_client()
        ROUND_TRIPS.install()

        if args.workers:
            groups = [SMALL_QUEUES[i::args.workers] for i in range(args.workers)]
            workers = [spawn_worker(server.url, g, False, os.path.join(logdir, f"idle-{i}.log"))
                       for i, g in enumerate(groups)]
            from django_jobqueue.engine import keys

            wait_until(lambda: conn.zcard(keys.workers()) >= args.workers, 60,
                       f"{args.workers} idle workers to register")
            say(f"{args.workers} idle worker(s) serving q00..q48 (never {BIG!r})")

        from django_jobqueue.engine import Queue, keys

        phases: dict[str, dict] = {}
        lists: dict[str, list] = {}

        def run_phase(name: str, n_queued: int, n_failed: int) -> None:
            per_page = rows_per_page(client) if n_queued else 25
            job_ids = {}
            if n_queued:
                job_ids["queued"] = conn.zrange(keys.queue(BIG), n_queued // 2,
                                                n_queued // 2)[0].decode()
            if n_failed:
                job_ids["failed"] = conn.zrange(keys.registry("failed", BIG), 0, 0)[0].decode()
            say(f"-- measuring: {name} ({n_queued:,} queued, {n_failed:,} failed; page size "
                f"{per_page}; dashboard says big: {dashboard_counts(client)})")
            lists[name] = pages(job_ids, max(2, -(-n_queued // per_page) // 2),
                                max(2, -(-n_failed // per_page) // 2),
                                max(3, -(-n_failed // per_page)))
            phases[name] = run_pages(client, conn, lists[name], args, say, name)

        small = min(args.small, args.queued, args.failed) if not args.skip_empty else 0
        if not args.skip_empty:
            run_phase("empty", 0, 0)
            if small:
                say(f"-- populating {BIG!r} with {small} failed and {small} queued jobs")
                populate_elsewhere(server.url, small, small, 1, logdir, args.fail_timeout, say)
                run_phase("small", small, small)
                Queue(BIG, connection=conn).empty()  # the failed ones stay

        say(f"-- populating queue {BIG!r} (failed jobs first, then the queued ones)")
        t0 = time.perf_counter()
        population = populate_elsewhere(server.url, args.queued, args.failed - small,
                                        args.fail_workers, logdir, args.fail_timeout, say)
        population["total_s"] = time.perf_counter() - t0
        mem = conn.info("memory")
        population["used_memory"] = mem["used_memory_human"]
        say(f"   populated in {population['total_s']:.1f}s; Redis used_memory "
            f"{mem['used_memory_human']}, dbsize {conn.dbsize():,}")
        run_phase("full", args.queued, args.failed)
        page_list, full = lists["full"], phases["full"]
        empty, smallres = phases.get("empty", {}), phases.get("small", {})

        say("")
        say(f"Admin pages, queue {BIG!r} with {args.queued:,} queued and {args.failed:,} failed "
            f"jobs, {len(QUEUE_NAMES)} queues configured, {args.workers} idle workers; "
            f"median/p95 of {args.rounds} requests after {args.warmup} warm-ups; "
            f"Django test client in-process, DEBUG=False, SQLite sessions")
        say(f"Load average before populating {info['loadavg']}, after measuring "
            + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        say(f"Machine: {info['nproc']} cores ({info['cpu']}), Python {info['python']}, "
            f"Django {info['django']}, redis-server {info['redis_server']}, "
            f"redis-py {info['redis_py']}, hiredis {info['hiredis']}")
        say(f"Population: {population['total_s']:.0f}s "
            + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in population.items() if k != "total_s"))
        say(render(page_list, full, empty, smallres, small))
        say("'round trips': Redis round trips of one request (every count seen over the "
            "rounds; one number = the same every time), on the populated queue / on the empty "
            f"queue / with {small} queued and {small} failed jobs (same pages; '-': no such "
            "page then, e.g. no job to show).")
        say("'Redis cmds': commands Redis ran per request (median), Lua-internal included. "
            "Target in parentheses: a page the issue does not name.")

        errors = {f"{phase}/{k}": v["error"] for phase, res in phases.items()
                  for k, v in res.items() if "error" in v}
        for key, err in errors.items():
            failed_pages = True
            say(f"\n{key}: {err}")

        named = [k for k, _l, _u, n in page_list if n]
        verdict = all(full.get(k, {}).get("median_ms", 1e9) < TARGET_MS for k in named)
        base = smallres or empty
        grew = [k for k in full if "round_trips" in full[k] and "round_trips" in base.get(k, {})
                and max(full[k]["round_trips"]) > max(base[k]["round_trips"])]
        say(f"\nTarget (dashboard, queue pages, failed tab under {TARGET_MS:.0f} ms median): "
            + ("met" if verdict else "NOT met"))
        say(f"Round trips the same with {args.queued:,}+{args.failed:,} jobs as with "
            f"{small}+{small}: " + ("yes" if not grew else f"NO, more on: {', '.join(grew)}"))

        to_profile = {k for k, r in full.items() if r.get("median_ms", 0) >= TARGET_MS}
        if "all" in args.profile:
            to_profile |= {k for k in full if "median_ms" in full[k]}
        else:
            to_profile |= {k for k in args.profile if k in full and "median_ms" in full[k]}
        for key in [k for k, *_ in page_list if k in to_profile]:
            say("")
            say(profile_one(client, full[key]["url"]))

        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": info, "config": vars(args), "population": population,
                           **phases}, f, indent=2, default=str)
            say(f"JSON written to {args.json}")
    except KeyboardInterrupt:
        say("\ninterrupted: cleaning up")
        return 130
    finally:
        ROUND_TRIPS.uninstall()
        for proc in workers:
            stop_process(proc)
        server.close()
        if not failed_pages:
            import shutil

            shutil.rmtree(logdir, ignore_errors=True)
        else:
            say(f"worker logs kept in {logdir}")
    return 1 if failed_pages else 0


if __name__ == "__main__":
    sys.exit(main())
