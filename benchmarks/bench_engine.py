#!/usr/bin/env python3
"""Side-by-side benchmark: django-jobqueue vs RQ (SimpleWorker) on one private Redis.

Run from the repository root::

    python3 benchmarks/bench_engine.py --jobs 5000
    python3 benchmarks/bench_engine.py --only rq --jobs 2000 --json results.json

A private ``redis-server`` (from PATH) is started on a free loopback port in a
temporary directory with persistence disabled, and killed at the end.  The
system Redis on port 6379 is never touched.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from importlib import import_module, metadata

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

QUEUE_NAME = "bench"
NOOP_PATH = "benchmarks.jobs.noop"
LIBS = ("jobqueue", "rq")
LIB_LABELS = {"jobqueue": "django-jobqueue", "rq": "RQ (SimpleWorker)"}


# --------------------------------------------------------------------------- redis server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A throw-away redis-server on a free loopback port, no persistence."""

    def __init__(self, binary: str = "redis-server") -> None:
        self.binary = shutil.which(binary) or binary
        self.tmpdir = tempfile.mkdtemp(prefix="jobqueue-bench-redis-")
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        import redis

        last_error = ""
        for _attempt in range(5):
            port = _free_port()
            if port == 6379:
                continue
            logfile = os.path.join(self.tmpdir, "redis.log")
            cmd = [
                self.binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.tmpdir,
                "--daemonize",
                "no",
                "--logfile",
                logfile,
            ]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.port = port
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
                    return self
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
            last_error = self._read_log()
            self._stop_proc()
        self.close()
        raise RuntimeError(f"could not start redis-server: {last_error[-2000:]}")

    def _read_log(self) -> str:
        try:
            with open(os.path.join(self.tmpdir, "redis.log")) as f:
                return f.read()
        except OSError:
            return ""

    def _stop_proc(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def close(self) -> None:
        self._stop_proc()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


# --------------------------------------------------------------------------- redis stats


def snapshot(conn) -> dict:
    """One INFO call -> total command calls (incl. Lua-internal) and read events."""
    info = conn.info("commandstats", "stats")
    calls = sum(v["calls"] for k, v in info.items() if k.startswith("cmdstat_"))
    scripts = sum(
        v["calls"]
        for k, v in info.items()
        if k
        in (
            "cmdstat_eval",
            "cmdstat_evalsha",
            "cmdstat_eval_ro",
            "cmdstat_evalsha_ro",
            "cmdstat_fcall",
            "cmdstat_fcall_ro",
        )
    )
    return {"calls": calls, "scripts": scripts, "reads": info["total_reads_processed"]}


class StatsMeter:
    """Deltas of commandstats / total_reads_processed minus the cost of measuring itself."""

    def __init__(self, conn) -> None:
        self.conn = conn
        a = snapshot(conn)
        b = snapshot(conn)
        self.overhead = {k: b[k] - a[k] for k in a}

    def __enter__(self) -> StatsMeter:
        self.before = snapshot(self.conn)
        return self

    def __exit__(self, *exc) -> None:
        after = snapshot(self.conn)
        self.delta = {k: after[k] - self.before[k] - self.overhead[k] for k in after}


class MonitorCounter:
    """Counts Lua-internal commands with MONITOR (used in a separate, untimed pass)."""

    _lua_re = re.compile(r"^\S+ \[\d+ lua\] ")

    def __init__(self, url: str) -> None:
        import redis

        self.sentinel = f"bench-monitor-end-{uuid.uuid4().hex}"
        self.client = redis.Redis.from_url(url)
        self.monitor = self.client.monitor()
        self.monitor.__enter__()  # sends MONITOR and reads the OK
        self.lua = 0
        self.total = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn = self.monitor.connection
            while True:
                line = conn.read_response()
                if isinstance(line, bytes):
                    line = line.decode("utf-8", "replace")
                if self.sentinel in line:
                    return
                self.total += 1
                if self._lua_re.match(line):
                    self.lua += 1
        except BaseException as e:  # reported by finish()
            self.error = e

    def finish(self, conn, timeout: float = 120.0) -> None:
        conn.echo(self.sentinel)
        self.thread.join(timeout)
        try:
            self.monitor.__exit__(None, None, None)
        except Exception:
            pass
        self.client.close()
        if self.thread.is_alive():
            raise RuntimeError("MONITOR reader did not see the end sentinel")
        if self.error is not None:
            raise RuntimeError(f"MONITOR reader failed: {self.error!r}")


# --------------------------------------------------------------------------- library adapters

WORKER_SCRIPTS = {
    "rq": (
        "import sys, redis\n"
        "from rq import Queue, SimpleWorker\n"
        "c = redis.Redis.from_url(sys.argv[1])\n"
        "SimpleWorker([Queue(sys.argv[2], connection=c)], connection=c)"
        ".work(burst=sys.argv[3] == '1')\n"
    ),
    "jobqueue": (
        "import sys, redis\n"
        "from django_jobqueue import Worker, Queue\n"
        "c = redis.Redis.from_url(sys.argv[1])\n"
        "Worker([Queue(sys.argv[2], connection=c)], connection=c)"
        ".work(burst=sys.argv[3] == '1')\n"
    ),
}


class Adapter:
    def __init__(self, lib: str, conn) -> None:
        self.lib = lib
        self.conn = conn
        mod = import_module("rq" if lib == "rq" else "django_jobqueue")
        self.Queue = mod.Queue
        self.noop = import_module("benchmarks.jobs").noop

    def queue(self):
        return self.Queue(QUEUE_NAME, connection=self.conn)

    def enqueue(self, q):
        return q.enqueue(self.noop)

    def enqueue_many(self, q, n: int):
        datas = [self.Queue.prepare_data(self.noop, args=()) for _ in range(n)]
        if self.lib == "rq":
            # As documented by RQ: enqueue_many with a pipeline, then execute it.
            with self.conn.pipeline() as pipe:
                jobs = q.enqueue_many(datas, pipeline=pipe)
                pipe.execute()
            return jobs
        return q.enqueue_many(datas)

    def worker_cmd(self, url: str, burst: bool) -> list[str]:
        return [
            sys.executable,
            "-c",
            WORKER_SCRIPTS[self.lib],
            url,
            QUEUE_NAME,
            "1" if burst else "0",
        ]

    def counts(self, q) -> dict:
        out = {}
        try:
            out["queued"] = q.count
        except Exception as e:
            out["queued"] = f"? ({e!r})"
        for name in ("finished", "failed"):
            try:
                reg = getattr(q, f"{name}_job_registry")
                out[name] = reg.count
            except Exception as e:
                out[name] = f"? ({e!r})"
        return out


def _status_value(status) -> str:
    return str(getattr(status, "value", status)).lower()


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # old RQ: naive UTC
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _tail(path: str, n: int = 3000) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def run_burst_worker(adapter: Adapter, url: str, logdir: str, tag: str, timeout: float) -> float:
    log = os.path.join(logdir, f"{adapter.lib}-{tag}.log")
    with open(log, "wb") as logf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            adapter.worker_cmd(url, burst=True),
            cwd=REPO_ROOT,
            env=_env(),
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            msg = f"burst worker did not exit within {timeout}s; log:\n{_tail(log)}"
            raise RuntimeError(msg) from None
        elapsed = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"burst worker exited with code {rc}; log:\n{_tail(log)}")
    return elapsed


def stop_process(proc: subprocess.Popen, deadline: float = 10.0) -> int | None:
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(deadline)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def wait_job(job, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = _status_value(job.get_status())
        if status in ("finished", "failed", "stopped", "canceled"):
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job.id} not done after {timeout}s (status {status})")
        time.sleep(0.0005)


def percentile(sorted_values: list[float], p: float) -> float:
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


# --------------------------------------------------------------------------- phases


def bench_library(lib: str, server: PrivateRedis, args, logdir: str) -> dict:
    import redis

    conn = redis.Redis.from_url(server.url)
    res: dict = {"errors": {}}
    n = args.jobs
    try:
        adapter = Adapter(lib, conn)
    except Exception as e:
        res["errors"]["import"] = f"{type(e).__name__}: {e}"
        return res
    meter = StatsMeter(conn)

    def phase(name, fn):
        try:
            fn()
        except Exception as e:
            res["errors"][name] = f"{type(e).__name__}: {e}"
            print(f"  [{lib}] {name} FAILED: {type(e).__name__}: {e}", file=sys.stderr)

    # 1. single enqueue ------------------------------------------------------------------
    def p_enqueue():
        conn.flushall()
        q = adapter.queue()
        with meter:
            t0 = time.perf_counter()
            for _ in range(n):
                adapter.enqueue(q)
            elapsed = time.perf_counter() - t0
        res["enqueue_per_s"] = n / elapsed
        res["commands_per_enqueue"] = meter.delta["calls"] / n
        res["round_trips_per_enqueue"] = meter.delta["reads"] / n
        res["enqueue_queued"] = adapter.counts(q).get("queued")

    # 2. enqueue_many --------------------------------------------------------------------
    def p_enqueue_many():
        conn.flushall()
        q = adapter.queue()
        with meter:
            t0 = time.perf_counter()
            adapter.enqueue_many(q, n)
            elapsed = time.perf_counter() - t0
        res["enqueue_many_per_s"] = n / elapsed
        res["commands_per_enqueue_many_job"] = meter.delta["calls"] / n
        res["round_trips_enqueue_many_total"] = meter.delta["reads"]
        res["enqueue_many_queued"] = adapter.counts(q).get("queued")

    # 3. worker startup (empty queue) + drain of N jobs -------------------------------------
    def p_process():
        conn.flushall()
        q = adapter.queue()
        res["worker_startup_s"] = run_burst_worker(
            adapter, server.url, logdir, "empty", args.timeout
        )
        conn.flushall()
        adapter.enqueue_many(q, n)
        queued = adapter.counts(q).get("queued")
        if queued != n:
            raise RuntimeError(f"expected {n} queued jobs before drain, found {queued}")
        with meter:
            elapsed = run_burst_worker(adapter, server.url, logdir, "drain", args.timeout)
        counts = adapter.counts(q)
        res["drain_s"] = elapsed
        res["drain_counts"] = counts
        res["processed_per_s"] = n / elapsed
        net = elapsed - res["worker_startup_s"]
        res["processed_per_s_net"] = n / net if net > 0 else None
        res["commands_per_job"] = meter.delta["calls"] / n
        res["script_calls_per_job"] = meter.delta["scripts"] / n
        res["round_trips_per_job"] = meter.delta["reads"] / n
        if counts.get("queued") != 0 or counts.get("finished") != n or counts.get("failed"):
            res["errors"]["drain_check"] = f"after drain: {counts} (expected {n} finished)"
            print(f"  [{lib}] WARNING after drain: {counts}", file=sys.stderr)

    # 4. MONITOR pass: Lua-internal commands per job (separate, untimed) ------------------
    def p_monitor():
        m = min(n, args.monitor_jobs)
        if m <= 0:
            return
        conn.flushall()
        q = adapter.queue()
        adapter.enqueue_many(q, m)
        counter = MonitorCounter(server.url)
        try:
            with meter:
                run_burst_worker(adapter, server.url, logdir, "monitor", args.timeout)
        finally:
            counter.finish(conn)
        total = meter.delta["calls"]
        res["monitor_jobs"] = m
        res["monitor_lines_seen"] = counter.total
        res["lua_internal_per_job"] = counter.lua / m
        res["commands_per_job_excl_lua"] = (total - counter.lua) / m

    # 5. idle latency --------------------------------------------------------------------
    def p_latency():
        conn.flushall()
        q = adapter.queue()
        log = os.path.join(logdir, f"{lib}-idle.log")
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                adapter.worker_cmd(server.url, burst=False),
                cwd=REPO_ROOT,
                env=_env(),
                stdout=logf,
                stderr=subprocess.STDOUT,
            )
        try:
            # Warm-up job: proves the worker is up and blocked on the queue.
            warm = adapter.enqueue(q)
            try:
                status = wait_job(warm, 60.0)
            except RuntimeError as e:
                raise RuntimeError(f"{e}; worker rc={proc.poll()} log:\n{_tail(log)}") from None
            if status != "finished":
                raise RuntimeError(f"warm-up job {status}; log:\n{_tail(log)}")
            time.sleep(0.2)  # let the worker go back to its blocking wait
            lat = []
            for _ in range(args.latency_jobs):
                job = adapter.enqueue(q)
                status = wait_job(job, 30.0)
                if status != "finished":
                    raise RuntimeError(f"latency job {job.id} ended {status}")
                job.refresh()
                if job.enqueued_at is None or job.started_at is None:
                    raise RuntimeError(f"job {job.id} lacks enqueued_at/started_at")
                delta = _as_utc(job.started_at) - _as_utc(job.enqueued_at)
                lat.append(delta.total_seconds() * 1000.0)
            lat.sort()
            res["latency_ms_p50"] = percentile(lat, 50)
            res["latency_ms_p99"] = percentile(lat, 99)
            res["latency_ms_min"] = lat[0]
            res["latency_ms_max"] = lat[-1]
            res["latency_ms_mean"] = sum(lat) / len(lat)
        finally:
            rc = stop_process(proc)
            res["idle_worker_exit_code"] = rc

    phase("enqueue", p_enqueue)
    phase("enqueue_many", p_enqueue_many)
    phase("process", p_process)
    phase("monitor", p_monitor)
    if args.latency_jobs > 0:
        phase("latency", p_latency)
    conn.flushall()
    conn.close()
    return res


# --------------------------------------------------------------------------- output

ROWS = [
    # (label, key, format)
    ("enqueue/s", "enqueue_per_s", "{:,.0f}"),
    ("enqueue_many/s", "enqueue_many_per_s", "{:,.0f}"),
    ("processed/s", "processed_per_s", "{:,.0f}"),
    ("processed/s (net of startup)", "processed_per_s_net", "{:,.0f}"),
    ("worker startup s (empty burst)", "worker_startup_s", "{:.2f}"),
    ("commands/job (processed)", "commands_per_job", "{:.1f}"),
    ("commands/job excl. Lua-internal", "commands_per_job_excl_lua", "{:.1f}"),
    ("round trips/job (processed)", "round_trips_per_job", "{:.1f}"),
    ("commands/enqueue", "commands_per_enqueue", "{:.1f}"),
    ("round trips/enqueue", "round_trips_per_enqueue", "{:.1f}"),
    ("latency p50 ms", "latency_ms_p50", "{:.2f}"),
    ("latency p99 ms", "latency_ms_p99", "{:.2f}"),
]


def grid_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def sep(ch: str) -> str:
        return "+" + "+".join(ch * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"

    out = [sep("-"), line(header), sep("=")]
    for r in rows:
        out += [line(r), sep("-")]
    return "\n".join(out)


def render_table(results: dict, libs: list[str]) -> str:
    header = ["metric"] + [LIB_LABELS[lib] for lib in libs]
    both = len(libs) == 2
    if both:
        header.append("ratio (jobqueue/RQ)")
    rows = []
    for label, key, fmt in ROWS:
        row = [label]
        vals = []
        for lib in libs:
            v = results[lib].get(key)
            vals.append(v)
            row.append(fmt.format(v) if isinstance(v, (int, float)) else "n/a")
        if both:
            a, b = vals
            ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and b
            row.append(f"{a / b:.2f}x" if ok else "n/a")
        rows.append(row)
    return grid_table(header, rows)


RATE_KEYS = ("enqueue_per_s", "enqueue_many_per_s", "processed_per_s", "processed_per_s_net")


def combine_rounds(runs: list[dict]) -> dict:
    """The first round's results, with each rate replaced by its median over all rounds."""
    combined = dict(runs[0])
    for key in RATE_KEYS:
        values = sorted(r[key] for r in runs if isinstance(r.get(key), (int, float)))
        if values:
            combined[key] = values[len(values) // 2]
            combined[key + "_rounds"] = values
    errors: dict = {}
    for r in runs:
        errors.update(r.get("errors", {}))
    combined["errors"] = errors
    return combined


def machine_info(conn) -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "redis_server": conn.info("server")["redis_version"],
        "redis_py": version("redis"),
        "rq": version("rq"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=5000, help="no-op jobs per phase (default 5000)")
    ap.add_argument(
        "--latency-jobs",
        type=int,
        default=200,
        help="jobs for the idle-worker latency phase (default 200, 0 = skip)",
    )
    ap.add_argument(
        "--monitor-jobs",
        type=int,
        default=1000,
        help="jobs for the untimed MONITOR pass that separates Lua-internal "
        "commands (default min(1000, --jobs), 0 = skip)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="timed rounds per library, alternating which library goes first; rates are "
        "the median over rounds (latency and MONITOR passes run in the first round only)",
    )
    ap.add_argument("--only", choices=LIBS, help="benchmark only one library")
    ap.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="also write results as JSON to PATH (or stdout with no PATH / '-')",
    )
    ap.add_argument("--redis-server", default="redis-server", help="redis-server binary")
    ap.add_argument("--timeout", type=float, default=900.0, help="per burst-worker timeout (s)")
    args = ap.parse_args(argv)
    if args.jobs <= 0:
        ap.error("--jobs must be positive")

    libs = [args.only] if args.only else list(LIBS)
    json_to_stdout = args.json == "-"
    say = (lambda *a: print(*a, file=sys.stderr)) if json_to_stdout else print

    import redis

    server = PrivateRedis(args.redis_server).start()
    logdir = tempfile.mkdtemp(prefix="jobqueue-bench-logs-")
    results: dict = {}
    try:
        conn = redis.Redis.from_url(server.url)
        info = machine_info(conn)
        conn.close()
        say("Machine: nproc={nproc}  cpu={cpu}".format(**info))
        say(
            "Python {python}  redis-server {redis_server}  redis-py {redis_py}  rq {rq}".format(
                **info
            )
        )
        say(f"Private Redis: {server.url}   jobs={args.jobs}  latency-jobs={args.latency_jobs}")
        rounds: dict[str, list[dict]] = {lib: [] for lib in libs}
        for number in range(max(1, args.rounds)):
            # later rounds only repeat the timed phases
            round_args = args if number == 0 else argparse.Namespace(
                **{**vars(args), "latency_jobs": 0, "monitor_jobs": 0}
            )
            order = libs if number % 2 == 0 else libs[::-1]
            for lib in order:
                say(f"-- round {number + 1}: benchmarking {LIB_LABELS[lib]} ...")
                t0 = time.perf_counter()
                rounds[lib].append(bench_library(lib, server, round_args, logdir))
                say(f"   done in {time.perf_counter() - t0:.1f}s")
        results = {lib: combine_rounds(rounds[lib]) for lib in libs}
    finally:
        server.close()

    say("")
    say(render_table(results, libs))
    failed = False
    for lib in libs:
        for phase, err in results[lib].get("errors", {}).items():
            failed = True
            say(f"\n[{LIB_LABELS[lib]}] {phase} error:\n{err}")
    if failed:
        say(f"\nWorker logs kept in: {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)

    if args.json:
        payload = {
            "machine": info,
            "config": {
                "jobs": args.jobs,
                "latency_jobs": args.latency_jobs,
                "monitor_jobs": min(args.jobs, args.monitor_jobs),
            },
            "results": results,
        }
        text = json.dumps(payload, indent=2, default=str)
        if json_to_stdout:
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
            say(f"JSON written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
