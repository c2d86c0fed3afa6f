#!/usr/bin/env python3
"""What a limit check and a group's completion accounting cost per job (issue 11).

Run from the repository root, alone on the machine::

    python3 benchmarks/bench_flow.py --jobs 5000 --rounds 3

Each variant enqueues N no-op jobs (one enqueue_many) and drains them with one in-process
burst Worker, on a private redis-server (see bench_engine.PrivateRedis). Variants:

- ``plain``: no limit, no group (the baseline);
- ``rate``: ``rate_limit="100000000/s"`` (every take checks and records a start, never waits);
- ``concurrency``: ``concurrency_limit=1000`` (a slot taken at each take, freed at each finish);
- ``rate+concurrency``: both on one key;
- ``group``: every job in one group with an on_complete callback (counted at each finish;
  the last one enqueues the callback, which is drained too).

Per job: round trips (server read events), Redis commands (Lua-internal included), time
in scripts (``INFO commandstats`` usec of EVALSHA), Redis CPU (the server's user+sys),
worker CPU (this process) and wall time. Medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from benchmarks.bench_engine import PrivateRedis, grid_table  # noqa: E402

VARIANTS = {
    "plain": {},
    "rate": {"rate_limit": "100000000/s"},
    "concurrency": {"concurrency_limit": 1000},
    "rate+concurrency": {"rate_limit": "100000000/s", "concurrency_limit": 1000},
    "group": None,  # see run_variant
}


def _counters(conn) -> dict:
    info = conn.info("all")
    calls = sum(v["calls"] for k, v in info.items() if k.startswith("cmdstat_"))
    script_us = sum(v["usec"] for k, v in info.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    return {"reads": info["total_reads_processed"], "calls": calls, "script_us": script_us,
            "cpu": info["used_cpu_user"] + info["used_cpu_sys"]}


def run_variant(name: str, conn, jobs: int) -> dict:
    from django_jobqueue import Queue, Worker

    conn.flushall()
    queue = Queue("flowbench", connection=conn)
    options = VARIANTS[name]
    datas = [Queue.prepare_data("benchmarks.jobs.noop", result_ttl=0, **(options or {}))
             for _ in range(jobs)]
    if options is None:
        from django_jobqueue import Group

        group = Group.create(connection=conn, name="bench",
                             on_complete="benchmarks.jobs.group_done")
        group.enqueue_many(queue, datas)
    else:
        queue.enqueue_many(datas)
    worker = Worker([queue], connection=conn, wait_timeout=0.05)
    before = _counters(conn)
    cpu, wall = time.process_time(), time.perf_counter()
    worker.work(burst=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = _counters(conn)
    done = jobs + (1 if options is None else 0)
    assert queue.count == 0 and queue.scheduled_job_registry.count == 0, name
    return {"round_trips": (after["reads"] - before["reads"]) / done,
            "commands": (after["calls"] - before["calls"]) / done,
            "redis_us": (after["cpu"] - before["cpu"]) * 1e6 / done,
            "script_us": (after["script_us"] - before["script_us"]) / done,
            "worker_us": cpu * 1e6 / done, "wall_us": wall * 1e6 / done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--only", default=None,
                        help="comma-separated variants (e.g. plain, to compare two checkouts)")
    args = parser.parse_args()
    import logging

    import redis

    from django_jobqueue import set_signing_key

    logging.basicConfig(level=logging.ERROR)
    set_signing_key("bench-flow")
    server = PrivateRedis().start()
    try:
        conn = redis.Redis.from_url(server.url)
        names = args.only.split(",") if args.only else list(VARIANTS)
        rounds: dict[str, list[dict]] = {name: [] for name in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                rounds[name].append(run_variant(name, conn, args.jobs))
    finally:
        server.close()
    medians = {name: {k: statistics.median(run[k] for run in runs) for k in runs[0]}
               for name, runs in rounds.items()}
    base = medians.get("plain") or next(iter(medians.values()))
    rows = []
    for name, m in medians.items():
        extra = "" if name == "plain" else (
            f"{m['script_us'] - base['script_us']:+.1f} / "
            f"{m['worker_us'] - base['worker_us']:+.1f}")
        rows.append([name, f"{m['round_trips']:.2f}", f"{m['commands']:.1f}",
                     f"{m['script_us']:.1f}", f"{m['redis_us']:.1f}", f"{m['worker_us']:.1f}",
                     f"{m['wall_us']:.1f}", extra])
    print(grid_table(["variant", "round trips/job", "commands/job", "script µs/job",
                      "Redis CPU µs/job", "worker CPU µs/job", "wall µs/job",
                      "vs plain: script / worker µs"], rows))
    print(f"{args.jobs} jobs per variant, median of {args.rounds} rounds")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"jobs": args.jobs, "rounds": args.rounds, "medians": medians}, out,
                      indent=2)


if __name__ == "__main__":
    main()
