#!/usr/bin/env python3
"""Worker pools side by side: django-jobqueue, Dramatiq, Celery and RQ on one private Redis.

Run from the repository root, with the benchmark venv (peers are never installed into the
project's own venv)::

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install -e . hiredis -r benchmarks/requirements.txt
    /tmp/benchvenv/bin/python benchmarks/bench_pool.py                 # both workloads
    /tmp/benchvenv/bin/python benchmarks/bench_pool.py --workload io --only jobqueue,dramatiq

For each workload (no-op, and ``time.sleep(0.02)``) and each contender: N jobs are enqueued
in bulk (untimed), the pool is started, and its progress is polled on Redis until all N are
done. See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from benchmarks.bench_engine import PrivateRedis, _env, _tail, grid_table, stop_process  # noqa: E402
from benchmarks.pool_contenders import LIBS, WORKLOADS, Contender, contenders, probe  # noqa: E402

DEFAULT_JOBS = {"noop": 5000, "io": 2000}
SCRIPT_CMDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- measurements


def snapshot(conn) -> dict:
    """One INFO call: command calls (incl. Lua-internal), script calls, read events, CPU."""
    info = conn.info("commandstats", "stats", "cpu")
    stats = {k[8:]: v["calls"] for k, v in info.items() if k.startswith("cmdstat_")}
    return {
        "calls": sum(stats.values()),
        "scripts": sum(stats.get(k, 0) for k in SCRIPT_CMDS),
        "reads": info["total_reads_processed"],
        "processed": info["total_commands_processed"],
        "cpu": info["used_cpu_sys"] + info["used_cpu_user"],
    }


def tree_cpu(roots: list[int]) -> float | None:
    """User+sys CPU seconds of the processes ``roots`` and all their descendants (live ones,
    plus what they collected from reaped children), read from /proc; None if a root is gone."""
    parent: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        pid = int(name)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    if any(p not in cpu for p in roots):
        return None
    total, todo = 0, list(roots)
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Poller:
    """Polls one contender's progress keys in one pipeline (one round trip per poll)."""

    def __init__(self, conn, contender: Contender, n: int) -> None:
        self.conn, self.contender, self.n = conn, contender, n
        self.commands = contender.progress_commands(conn)
        self.polls = 0

    def poll(self) -> tuple[int, int, int]:
        pipe = self.conn.pipeline(transaction=False)
        for cmd in self.commands:
            pipe.execute_command(*cmd)
        self.polls += 1
        return self.contender.progress(pipe.execute(), self.n)


class Mark:
    """The state at one moment: time, jobs done, Redis counters, workers' CPU."""

    def __init__(self, conn, done: int, polls: int, roots: list[int] | None) -> None:
        self.t = time.perf_counter()
        self.done = done
        self.polls = polls
        self.worker_cpu = tree_cpu(roots) if roots else 0.0
        self.redis = snapshot(conn)


def calibrate(conn, poller: Poller, interval: float, seconds: float) -> dict:
    """Redis cost of the poller alone (no workers yet): per poll, and idle CPU per second."""
    a = Mark(conn, 0, poller.polls, None)
    end = a.t + seconds
    while time.perf_counter() < end:
        poller.poll()
        time.sleep(interval)
    b = Mark(conn, 0, poller.polls, None)
    polls = max(1, b.polls - a.polls)
    # one INFO (the second mark's) is counted in the delta too
    return {
        "calls": (b.redis["calls"] - a.redis["calls"] - 1) / polls,
        "reads": (b.redis["reads"] - a.redis["reads"] - 1) / polls,
        "processed": (b.redis["processed"] - a.redis["processed"] - 1) / polls,
        "cpu_per_s": (b.redis["cpu"] - a.redis["cpu"]) / (b.t - a.t),
    }


def interval_stats(a: Mark, b: Mark, base: dict) -> dict:
    """Per-job costs between two marks, net of the poller and of the INFO calls."""
    jobs = b.done - a.done
    if jobs <= 0 or b.t <= a.t:
        return {}
    polls = b.polls - a.polls
    d = {k: b.redis[k] - a.redis[k] for k in a.redis}
    redis_cpu = d["cpu"] - base["cpu_per_s"] * (b.t - a.t)
    cpu_ok = a.worker_cpu is not None and b.worker_cpu is not None
    return {
        "rate": jobs / (b.t - a.t),
        "worker_cpu_us": (b.worker_cpu - a.worker_cpu) / jobs * 1e6 if cpu_ok else None,
        "redis_cpu_us": max(0.0, redis_cpu) / jobs * 1e6,
        "commands": (d["calls"] - 1 - polls * base["calls"]) / jobs,
        "client_commands": (d["processed"] - 1 - polls * base["processed"]) / jobs,
        "round_trips": (d["reads"] - 1 - polls * base["reads"]) / jobs,
        "scripts": d["scripts"] / jobs,
    }


# --------------------------------------------------------------------------- one run


def run_one(c: Contender, server: PrivateRedis, n: int, args, logdir: str, tag: str) -> dict:
    import redis

    conn = redis.Redis.from_url(server.url)
    res: dict = {"jobs": n, "errors": {}}
    procs: list[subprocess.Popen] = []
    logs: list[str] = []
    try:
        conn.flushall()
        c.enqueue(conn, n)
        poller = Poller(conn, c, n)
        done, failed, queued = poller.poll()
        if done != 0 or queued != n:
            raise RuntimeError(f"after enqueueing {n}: done={done} queued={queued}")
        base = calibrate(conn, poller, args.poll_interval, args.calibrate)
        res["poller_cost"] = base
        argvs = c.commands(server.url)
        res["commands"] = [shlex.join(a) for a in argvs]
        env = {**_env(), "BENCH_REDIS_URL": server.url}
        cpu0 = children_cpu()
        start = Mark(conn, 0, poller.polls, None)
        for i, argv in enumerate(argvs):
            logs.append(os.path.join(logdir, f"{tag}-{i}.log"))
            with open(logs[-1], "wb") as logf:
                procs.append(subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=logf,
                                              stderr=subprocess.STDOUT))
        roots = [p.pid for p in procs]
        mark10 = first = None
        deadline = start.t + args.timeout
        while True:
            done, failed, queued = poller.poll()
            if done and first is None:
                first = time.perf_counter()
            if mark10 is None and done >= 0.1 * n:
                mark10 = Mark(conn, done, poller.polls, roots)
            if done >= n:
                mark100 = Mark(conn, done, poller.polls, roots)
                break
            exited = [p.returncode for p in procs if p.poll() is not None]
            if exited and (c.stop == "sigterm" or len(exited) == len(procs)):
                done, failed, queued = poller.poll()
                if done < n:
                    raise RuntimeError(f"workers exited (codes {exited}) with {done}/{n} "
                                       f"done, {queued} queued")
                continue
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timeout after {args.timeout}s: {done}/{n} done")
            time.sleep(args.poll_interval)
        # the end: burst workers exit by themselves, the others get SIGTERM now
        codes = []
        for p in procs:
            if c.stop == "burst":
                try:
                    codes.append(p.wait(args.timeout))
                except subprocess.TimeoutExpired:
                    codes.append(stop_process(p, 30))
            else:
                codes.append(stop_process(p, 60))
        res["exit_s"] = time.perf_counter() - start.t
        res["exit_codes"] = codes
        bad = [code for code in codes if code not in (0, None) and c.stop == "burst"]
        if bad:
            res["errors"]["exit"] = f"exit codes {codes}"
        worker_cpu_life = children_cpu() - cpu0
        done, failed, queued = poller.poll()
        res["final"] = {"done": done, "failed": failed, "queued": queued}
        if done != n or failed or queued:
            res["errors"]["check"] = f"after the run: {res['final']} (expected {n} done)"
        steady = interval_stats(mark10, mark100, base) if mark10 else {}
        total = interval_stats(start, mark100, base)
        res.update({
            "processed_per_s": steady.get("rate"),
            "processed_per_s_total": n / (mark100.t - start.t),
            "first_job_s": (first or mark100.t) - start.t,
            "mark10_s": mark10.t - start.t if mark10 else None,
            "drain_s": mark100.t - start.t,
            "worker_cpu_us_per_job": steady.get("worker_cpu_us"),
            "worker_cpu_us_per_job_total": worker_cpu_life / n * 1e6,
            "redis_cpu_us_per_job": steady.get("redis_cpu_us"),
            "redis_cpu_us_per_job_total": total.get("redis_cpu_us"),
            "commands_per_job": steady.get("commands"),
            "commands_per_job_total": total.get("commands"),
            "client_commands_per_job": steady.get("client_commands"),
            "round_trips_per_job": steady.get("round_trips"),
            "round_trips_per_job_total": total.get("round_trips"),
            "scripts_per_job": steady.get("scripts"),
        })
    except Exception as e:
        res["errors"]["run"] = f"{type(e).__name__}: {e}"
        for p in procs:
            stop_process(p, 30)
    for i, log in enumerate(logs):
        if res["errors"]:
            res["errors"][f"log{i}"] = _tail(log, 1500)
    conn.flushall()
    conn.close()
    return res


# --------------------------------------------------------------------------- output

COLUMNS = [
    # (header, key, format)
    ("processed/s steady", "processed_per_s", "{:,.0f}"),
    ("processed/s total", "processed_per_s_total", "{:,.0f}"),
    ("1st job s", "first_job_s", "{:.2f}"),
    ("worker CPU us/job steady", "worker_cpu_us_per_job", "{:,.0f}"),
    ("worker CPU us/job lifetime", "worker_cpu_us_per_job_total", "{:,.0f}"),
    ("Redis CPU us/job", "redis_cpu_us_per_job", "{:.1f}"),
    ("commands/job", "commands_per_job", "{:.1f}"),
    ("round trips/job", "round_trips_per_job", "{:.2f}"),
    ("scripts/job", "scripts_per_job", "{:.2f}"),
]


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def combine(runs: list[dict]) -> dict:
    """The last round's details, each numeric metric replaced by its median over rounds."""
    out = dict(runs[-1])
    for key in {k for r in runs for k, v in r.items() if isinstance(v, (int, float))}:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        if values:
            out[key] = median(values)
            if key.startswith("processed_per_s"):
                out[key + "_rounds"] = values
    out["errors"] = {k: v for r in runs for k, v in r.get("errors", {}).items()}
    return out


def render(workload: str, cs: list[Contender], results: dict) -> str:
    header = ["contender"] + [h for h, _, _ in COLUMNS]
    rows = []
    for c in cs:
        r = results[c.id]
        label = c.label + (" [FALLBACK]" if c.fallback else "") + (" [ERROR]" if r["errors"]
                                                                   else "")
        row = [label]
        for _, key, fmt in COLUMNS:
            v = r.get(key)
            row.append(fmt.format(v) if isinstance(v, (int, float)) else "n/a")
        rows.append(row)
    lines = [f"{WORKLOADS[workload]}, {results[cs[0].id]['jobs']} jobs", grid_table(header, rows)]
    for c in cs:
        cmd = "; ".join(results[c.id].get("commands", [])) or "(not started)"
        lines.append(f"  {c.label}: {cmd}")
        for text in (c.note, c.fallback and f"FALLBACK: {c.fallback}"):
            if text:
                lines.append(f"      {text}")
    return "\n".join(lines)


def versions(conn) -> dict:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    out = {d: version(d) for d in ("django-jobqueue", "dramatiq", "celery", "kombu", "rq",
                                   "redis", "hiredis")}
    out["redis-server"] = conn.info("server")["redis_version"]
    out["python"] = sys.version.split()[0]
    out["nproc"] = len(os.sched_getaffinity(0))
    return out


def selected(cs: list[Contender], only: list[str] | None) -> list[Contender]:
    if not only:
        return cs
    return [c for c in cs if c.lib in only or c.id in only]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, help="jobs per run (default 5000 no-op, 2000 I/O)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs per contender, rotating the order; metrics are medians")
    ap.add_argument("--only", help=f"comma-separated libraries ({','.join(LIBS)}) or "
                    "contender ids (e.g. jobqueue-2x8)")
    ap.add_argument("--workload", choices=("noop", "io", "both"), default="both")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--timeout", type=float, default=600.0, help="per run (s)")
    ap.add_argument("--poll-interval", type=float, default=0.002, help="progress poll (s)")
    ap.add_argument("--calibrate", type=float, default=0.3,
                    help="seconds of polling without workers, to net out the poller's cost")
    ap.add_argument("--redis-server", default="redis-server", help="redis-server binary")
    args = ap.parse_args(argv)
    if args.jobs is not None and args.jobs < 10:
        ap.error("--jobs must be at least 10")
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    workloads = ["noop", "io"] if args.workload == "both" else [args.workload]

    import redis

    caps = probe(_env())  # before any measured run: it spawns processes of its own
    plan = {w: selected(contenders(w, caps), only) for w in workloads}
    if not any(plan.values()):
        ap.error(f"--only {args.only!r} matches no contender")
    server = PrivateRedis(args.redis_server).start()
    os.environ["BENCH_REDIS_URL"] = server.url  # read by pool_dramatiq / pool_celery
    logdir = tempfile.mkdtemp(prefix="jobqueue-bench-pool-")
    results: dict = {w: {} for w in workloads}
    try:
        conn = redis.Redis.from_url(server.url)
        info = versions(conn)
        conn.close()
        print("  ".join(f"{k} {v}" for k, v in info.items()))
        print(f"Private Redis: {server.url}   rounds={args.rounds}   capabilities: {caps}")
        for w in workloads:
            cs = plan[w]
            n = args.jobs or DEFAULT_JOBS[w]
            runs: dict[str, list[dict]] = {c.id: [] for c in cs}
            for rnd in range(max(1, args.rounds)):
                k = rnd % len(cs) if cs else 0
                for c in cs[k:] + cs[:k]:
                    t0 = time.perf_counter()
                    r = run_one(c, server, n, args, logdir, f"{w}-{c.id}-r{rnd + 1}")
                    runs[c.id].append(r)
                    rate = r.get("processed_per_s")
                    shown = f"{rate:,.0f}/s steady" if rate else "no rate"
                    error = " ERROR" if r["errors"] else ""
                    print(f"-- {w} round {rnd + 1}: {c.id}: {shown}{error} "
                          f"({time.perf_counter() - t0:.1f}s)", flush=True)
            results[w] = {cid: combine(rs) for cid, rs in runs.items()}
    finally:
        server.close()

    failed = False
    for w in workloads:
        if plan[w]:
            print()
            print(render(w, plan[w], results[w]))
        for c in plan[w]:
            for key, err in results[w][c.id]["errors"].items():
                failed = True
                print(f"\n[{w} {c.id}] {key}:\n{err}")
    if failed:
        print(f"\nWorker logs kept in: {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    if args.json:
        payload = {"versions": info, "capabilities": caps, "config": vars(args),
                   "results": results}
        with open(args.json, "w") as f:
            f.write(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"JSON written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
