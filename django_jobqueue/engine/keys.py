"""Every Redis key name the engine uses, built in this module only.

All keys share one namespace prefix (``JOBQUEUE_KEY_PREFIX`` in the environment, or
:func:`set_prefix`), so that two applications can share one Redis. The Lua scripts get
their key builders from :func:`lua_definitions`, generated from the same table, so a change
of layout (for example Redis Cluster hash tags) is a change to this module alone.
"""

from __future__ import annotations

import os

from .states import REGISTRY_KINDS

#: kind -> key template; ``{}`` is the queue name, job id or worker name.
LAYOUT: dict[str, str] = {
    "queues": "queues",  # set of known queue names
    "seq": "seq",  # counter giving FIFO order within one priority
    "workers": "workers",  # zset: worker name -> last heartbeat
    "suspended": "suspended",  # present while workers are suspended (may expire)
    "paused": "paused",  # set of paused queue names: no worker takes from them
    "queue": "queue:{}",  # zset of queued job ids, scored by priority then FIFO
    "notify": "notify:{}",  # list holding at most one wake-up token for blocked workers
    "job": "job:{}",  # hash: one job's fields
    "results": "results:{}",  # list of one job's execution outcomes, newest first
    "dependents": "dependents:{}",  # set of job ids waiting on this job
    "unique": "unique:{}",  # string: id of the job holding a uniqueness token (uniqueness.py)
    "worker": "worker:{}",  # hash: one worker's state, expires with its heartbeat
    "stop": "stop:{}",  # id of the job an operator asked this worker to stop (expires)
    "stops": "stops:{}",  # set: ids of jobs an operator asked a pool's slots to stop
    "wake": "wake:{}",  # list: a token wakes the one listening slot of a pool's child
    "started": "started:{}",  # zset: job id -> lease deadline
    "finished": "finished:{}",  # zset: job id -> expiry
    "failed": "failed:{}",  # zset: job id -> expiry
    "deferred": "deferred:{}",  # zset: job id -> time deferred
    "scheduled": "scheduled:{}",  # zset: job id -> due time
    "canceled": "canceled:{}",  # zset: job id -> expiry
    "periodics": "periodics",  # zset: periodic job name -> its next tick (epoch seconds)
    "periodic": "periodic:{}",  # hash: one periodic job's definition digest and last runs
    "groups": "groups",  # zset: group name -> time created (groups.py)
    "group": "group:{}",  # hash: one group's counts, callbacks and queue
    "group_jobs": "group_jobs:{}",  # zset: a group's job ids, in enqueue order
    "limits": "limits",  # hash: limit key -> its definition, as last enqueued (limits.py)
    "limit_starts": "limit_starts:{}",  # zset: a rate limit's starts in its window
    "limit_running": "limit_running:{}",  # set: ids of the jobs holding a concurrency slot
    "limit_waiting": "limit_waiting:{}",  # zset: job id -> when it is tried again
    "metrics": "metrics:{}",  # hash: a queue's cumulative counts and run-time histogram
    "history": "history:{}",  # hash per queue and hour ("<queue>:<hour>"): counts a minute
    "depth": "depth:{}",  # hash per queue and hour: queued jobs, sampled once a minute
}

DEFAULT_PREFIX = "jq:"
_prefix = os.environ.get("JOBQUEUE_KEY_PREFIX", DEFAULT_PREFIX)


def prefix() -> str:
    return _prefix


def set_prefix(value: str) -> None:
    """Change the namespace of every key (call before any queue is used)."""
    global _prefix
    _prefix = value


_HEAD = {kind: template.partition("{}")[0] for kind, template in LAYOUT.items()}


def queues() -> str:
    return _prefix + _HEAD["queues"]


def workers() -> str:
    return _prefix + _HEAD["workers"]


def suspended() -> str:
    return _prefix + _HEAD["suspended"]


def paused() -> str:
    return _prefix + _HEAD["paused"]


def seq() -> str:
    return _prefix + _HEAD["seq"]


def queue(name: str) -> str:
    return _prefix + _HEAD["queue"] + name


def notify(name: str) -> str:
    return _prefix + _HEAD["notify"] + name


def job(job_id: str) -> str:
    return _prefix + _HEAD["job"] + job_id


def results(job_id: str) -> str:
    return _prefix + _HEAD["results"] + job_id


def dependents(job_id: str) -> str:
    return _prefix + _HEAD["dependents"] + job_id


def unique(token: str) -> str:
    return _prefix + _HEAD["unique"] + token


def worker(name: str) -> str:
    return _prefix + _HEAD["worker"] + name


def stop(worker_name: str) -> str:
    return _prefix + _HEAD["stop"] + worker_name


def stops(pool_name: str) -> str:
    return _prefix + _HEAD["stops"] + pool_name


def wake(child_name: str) -> str:
    return _prefix + _HEAD["wake"] + child_name


def periodics() -> str:
    return _prefix + _HEAD["periodics"]


def periodic(name: str) -> str:
    return _prefix + _HEAD["periodic"] + name


def groups() -> str:
    return _prefix + _HEAD["groups"]


def group(name: str) -> str:
    return _prefix + _HEAD["group"] + name


def group_jobs(name: str) -> str:
    return _prefix + _HEAD["group_jobs"] + name


def limits() -> str:
    return _prefix + _HEAD["limits"]


def limit_starts(key: str) -> str:
    return _prefix + _HEAD["limit_starts"] + key


def limit_running(key: str) -> str:
    return _prefix + _HEAD["limit_running"] + key


def limit_waiting(key: str) -> str:
    return _prefix + _HEAD["limit_waiting"] + key


def metrics(queue_name: str) -> str:
    return _prefix + _HEAD["metrics"] + queue_name


def history(queue_name: str, hour: int) -> str:
    return _prefix + _HEAD["history"] + f"{queue_name}:{hour}"


def depth(queue_name: str, hour: int) -> str:
    return _prefix + _HEAD["depth"] + f"{queue_name}:{hour}"


def registry(kind: str, queue_name: str) -> str:
    if kind not in REGISTRY_KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return _prefix + _HEAD[kind] + queue_name


def lua_definitions() -> list[tuple[str, str]]:
    """(name, Lua source) of each key builder ``k_<kind>(name)``, prefix taken from ARGV[1].

    The script loader includes only those a script uses.
    """
    defs = [("PREFIX", "local PREFIX = ARGV[1]")]
    for kind, template in LAYOUT.items():
        head = template.partition("{}")[0]
        if "{}" in template:
            defs.append((f"k_{kind}",
                         f"local function k_{kind}(name) return PREFIX .. '{head}' .. name end"))
        else:
            defs.append((f"k_{kind}", f"local function k_{kind}() return PREFIX .. '{head}' end"))
    kinds = ", ".join(f"'{k}'" for k in REGISTRY_KINDS)
    defs.append(("REGISTRY_KINDS", f"local REGISTRY_KINDS = {{{kinds}}}"))
    table = ", ".join(f"{k} = k_{k}" for k in REGISTRY_KINDS)
    defs.append(("k_registry", f"local REGISTRY = {{{table}}}\nlocal function k_registry(kind, "
                               "name) return REGISTRY[kind](name) end"))
    return defs
