"""The job state machine, defined once: statuses, where a job of each status lives, which
moves start from which statuses, which registries expire, and the TTL defaults.

The Lua scripts get these as generated constants (:func:`lua_definitions`; a test fails when
a ``.lua`` file spells a status or a TTL default itself), and the admin derives its buttons
from :data:`MOVES`.

::

    (new) ──enqueue──────────────▶ queued ──take──▶ started ──finish──▶ finished
    (new) ──enqueue, due later───▶ scheduled ──due time──▶ queued
    (new) ──enqueue, depends_on──▶ deferred ──every dependency finished──▶ queued
    deferred ──a dependency failed for good, was stopped or canceled──▶ canceled (and its
             dependents, transitively; with allow_failure: released like a finish)
    canceled (by a dependency's end) ──that dependency requeued──▶ deferred
    started ──fail──▶ failed, or queued | scheduled while a retry is left
    started ──stop──▶ stopped
    started ──recover (its lease lapsed)──▶ queued (at the front), or failed once the job
                                           has lost too many workers
    queued | scheduled | deferred ──cancel──▶ canceled
    failed | stopped ──requeue──▶ queued     (an operator may also requeue canceled, finished)
    any status but started ──quarantine──▶ failed          any status ──delete──▶ (gone)

    Enqueueing an id that is finished, failed, stopped or canceled replaces that job; an id
    that is queued, scheduled, deferred or started is a duplicate and stays as it is. So is
    a unique job whose uniqueness key such a job holds (uniqueness.py): that job is kept.

Every arrow is one Lua script (one atomic step), so a job is always in exactly one place:
its queue, or one registry of its queue (:data:`PLACE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class JobStatus(str, Enum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


#: the registries of a queue (a job that is not queued is in exactly one of them)
REGISTRY_KINDS = ("started", "finished", "failed", "deferred", "scheduled", "canceled")

#: where a job of each status lives: "queue" (the queue itself) or a registry kind
PLACE: dict[JobStatus, str] = {
    JobStatus.QUEUED: "queue",
    JobStatus.STARTED: "started",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed",  # stopped jobs sit with the failed ones
    JobStatus.DEFERRED: "deferred",
    JobStatus.SCHEDULED: "scheduled",
    JobStatus.CANCELED: "canceled",
}

#: the tabs of a queue, in the order operators read them (a place each)
TABS = ("queued", "started", "scheduled", "deferred", "finished", "failed", "canceled")

#: registries whose scores are expiry times: entries past theirs are neither shown nor
#: counted, and cleanup drops them (the job's hash expires at the same time)
EXPIRING = ("finished", "failed", "canceled")


@dataclass(frozen=True)
class Move:
    """One move of the state machine: the statuses it starts from (``None`` in ``sources``:
    a job with no status, i.e. saved but never enqueued) and where it leads."""

    name: str
    sources: frozenset[JobStatus | None]
    targets: frozenset[JobStatus]
    doc: str

    def allows(self, status: str | JobStatus | None) -> bool:
        if status is None or status == "":
            return None in self.sources
        return status in self.sources


def _move(name: str, sources: tuple, targets: tuple, doc: str) -> Move:
    return Move(name, frozenset(JobStatus(s) if s else None for s in sources),
                frozenset(JobStatus(t) for t in targets), doc)


_S = JobStatus
#: every move, by name (each is one Lua script, named in its doc)
MOVES: dict[str, Move] = {m.name: m for m in (
    _move("enqueue", (None, "finished", "failed", "stopped", "canceled"),
          ("queued", "scheduled", "deferred", "started", "canceled"),
          "enqueue.lua; a job of another status with the same id is a duplicate (kept)"),
    _move("take", ("queued",), ("started",), "_take.lua: the worker's next job"),
    _move("wait_for_limit", ("queued",), ("scheduled",),
          "_take.lua / _limits.lua: over its rate or concurrency limit, it waits (no attempt)"),
    _move("limit_slot_freed", ("scheduled",), ("queued",),
          "_limits.lua limit_free, in finish/fail/recover.lua: a concurrency slot freed"),
    _move("group_callback", (None,), ("queued",),
          "_groups.lua complete_group: the step that ends a group's last job enqueues its "
          "callbacks"),
    # a job recovered after its lease lapsed (queued) may still be recorded by the worker
    # that ran it, until another one takes it (claim, in _take.lua)
    _move("finish", ("started", "queued"), ("finished",), "finish.lua"),
    _move("fail", ("started", "queued"), ("failed", "stopped", "queued", "scheduled"),
          "fail.lua: failed or stopped, or queued/scheduled again for a retry"),
    _move("recover", ("started",), ("queued", "failed"),
          "recover.lua: the worker's lease lapsed (or it gave the job back)"),
    _move("schedule", ("scheduled",), ("queued",), "schedule.lua: the due time came"),
    _move("release", ("deferred",), ("queued", "scheduled"),
          "_dependencies.lua: every dependency finished (or ended, with allow_failure)"),
    _move("cancel_dependents", ("deferred",), ("canceled",),
          "_dependencies.lua end_dependents, in fail/cancel/recover.lua: a dependency ended "
          "without finishing"),
    _move("restore_dependents", ("canceled",), ("deferred",),
          "_dependencies.lua restore_dependents, in requeue/enqueue.lua: that dependency "
          "requeued (then released at once when nothing it waits for is pending)"),
    _move("cancel", ("queued", "scheduled", "deferred"), ("canceled",), "cancel.lua"),
    _move("stop", ("started",), ("stopped",),
          "stop.lua asks the worker; it records the job as stopped (fail.lua)"),
    _move("requeue", ("failed", "stopped"), ("queued",),
          "requeue.lua: Job.requeue, FailedJobRegistry.requeue/requeue_all"),
    _move("operator_requeue", ("failed", "stopped", "canceled", "finished"), ("queued",),
          "requeue.lua, from the admin's requeue action"),
    _move("quarantine", (None, "queued", "finished", "failed", "stopped", "deferred",
                         "scheduled", "canceled"), ("failed",),
          "fail.lua without a worker: FailedQueue.quarantine"),
    _move("delete", (None, *_S), (), "delete.lua: the job and every trace of it"),
)}

#: statuses that make an enqueue of the same id a duplicate (the job is kept as it is)
ACTIVE = frozenset(JobStatus) - MOVES["enqueue"].sources
#: the moves an operator can ask for on one job (the admin's buttons), in button order
OPERATOR_ACTIONS = {"requeue": "operator_requeue", "cancel": "cancel", "stop": "stop",
                    "delete": "delete"}


def operator_actions(status: str | None) -> list[str]:
    """What an operator may do with a job of this status (the admin shows these buttons); an
    unknown status counts as none (such a job can still be deleted)."""
    if status not in JobStatus._value2member_map_:
        status = None
    return [action for action, move in OPERATOR_ACTIONS.items() if MOVES[move].allows(status)]


def place_of(status: str | None) -> str:
    """Where a job of this status lives: "queue" or a registry kind ("queue" for an unknown
    status)."""
    try:
        return PLACE[JobStatus(status)]
    except ValueError:
        return "queue"


def tab_of(status: str | None) -> str:
    """The queue tab (:data:`TABS`) that lists a job of this status."""
    place = place_of(status)
    return "queued" if place == "queue" else place


# --- TTL defaults (seconds) ------------------------------------------------------------------

#: how long a job may run
DEFAULT_TIMEOUT = 180
#: how long a finished job (and its result) is kept
DEFAULT_RESULT_TTL = 500
#: how long a failed job is kept; 0 also means "keep it" (a failure is never dropped unseen)
DEFAULT_FAILURE_TTL = 365 * 24 * 3600
#: a TTL meaning "keep for ever"
FOREVER = -1
#: a job whose worker died this many times goes to failed instead of running again (a job
#: that kills its worker must not take down every worker, forever)
DEFAULT_MAX_LOST_ATTEMPTS = 3


def failure_ttl_of(value: int | None) -> int:
    """The TTL a failed or canceled job gets: its own, else the default; 0 keeps it."""
    ttl = DEFAULT_FAILURE_TTL if value is None else value
    return FOREVER if ttl == 0 else ttl


# --- the Lua side ----------------------------------------------------------------------------


def _lua_set(name: str, statuses) -> tuple[str, str]:
    items = ", ".join(f"{s.value} = true" for s in sorted(statuses, key=lambda s: s.value)
                      if s is not None)
    return name, f"local {name} = {{{items}}}"


def lua_definitions() -> list[tuple[str, str]]:
    """(name, Lua source) of the constants and helpers the scripts use instead of literals:
    ``S_QUEUED = 'queued'`` ..., the status sets of the moves, and the TTL defaults."""
    defs = [(f"S_{s.name}", f"local S_{s.name} = '{s.value}'") for s in JobStatus]
    defs.append(_lua_set("ACTIVE", ACTIVE))
    defs.append(_lua_set("CANCELABLE", MOVES["cancel"].sources))
    defs.append(_lua_set("STOPPABLE", MOVES["stop"].sources))
    defs.append(("DEFAULT_FAILURE_TTL", f"local DEFAULT_FAILURE_TTL = {DEFAULT_FAILURE_TTL}"))
    defs.append(("failure_ttl_of", (
        "-- a failed or canceled job's TTL: its own (a corrupt one reads as none), else the\n"
        "-- default; 0 keeps it for ever\n"
        "local function failure_ttl_of(value)\n"
        "  local ttl = tonumber(value) or DEFAULT_FAILURE_TTL\n"
        f"  if ttl == 0 then\n    return {FOREVER}\n  end\n"
        "  return ttl\n"
        "end")))
    return defs
