"""The pool's command-line flags, the same on ``python -m django_jobqueue.engine worker`` and
``manage.py runworker``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from .options import DEFAULT_GRACE, PoolOptions
from .reload import require_watchfiles


def add_pool_arguments(parser: argparse.ArgumentParser) -> None:
    """The pool's flags, the same on ``manage.py runworker``."""
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="child processes (default 1; 0: run jobs in this process, one "
                             "at a time)")
    parser.add_argument("--threads", type=int, default=1, metavar="M",
                        help="jobs each child runs at once (default 1)")
    parser.add_argument("--grace", type=float, default=None, metavar="S",
                        help="seconds a job may run past its timeout, or past a request to "
                             "stop it, before its child is killed (default 10)")
    parser.add_argument("--max-jobs-per-child", type=int, metavar="K",
                        help="replace a child after it ran K jobs")
    parser.add_argument("--max-memory-per-child", type=float, metavar="MB",
                        help="replace a child once its resident memory passes MB "
                             "(checked between jobs)")
    parser.add_argument("--reload", action="store_true",
                        help="restart when a .py file under the current directory changes "
                             "(development; needs watchfiles)")


def pool_options(args: argparse.Namespace, reload_paths: Sequence[str] = ()
                 ) -> PoolOptions | None:
    """The pool the flags ask for; None for ``--processes 0`` (raises ValueError for flags
    that make no sense together, RuntimeError when --reload lacks its watcher)."""
    if args.processes == 0:
        pool_only = [flag for flag, value in (
            ("--threads", args.threads != 1), ("--grace", args.grace is not None),
            ("--max-jobs-per-child", args.max_jobs_per_child is not None),
            ("--max-memory-per-child", args.max_memory_per_child is not None),
            ("--reload", args.reload)) if value]
        if pool_only:
            raise ValueError(f"{', '.join(pool_only)}: only with a pool (--processes 1 or "
                             "more); --processes 0 runs one job at a time in this process")
        return None
    paths: tuple[str, ...] = ()
    if args.reload:
        require_watchfiles()
        paths = tuple(reload_paths) or (os.getcwd(), *args.path)
    return PoolOptions(processes=args.processes, threads=args.threads,
                       grace=DEFAULT_GRACE if args.grace is None else args.grace,
                       max_jobs_per_child=args.max_jobs_per_child,
                       max_memory_per_child=args.max_memory_per_child,
                       reload_paths=paths)
