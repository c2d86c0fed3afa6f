"""What operators do: on one job, on selected rows, on a whole queue. Every action is a POST
(CSRF-protected by the admin), leaves a message and an admin LogEntry; whole-queue actions
go through a confirmation page and run in batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse

from ..engine import keys, overview
from ..engine.moves import apply_to_many
from ..engine.queue import Queue
from ..engine.states import tab_of
from . import data
from .access import (
    Links,
    can_change,
    forbidden,
    guarded,
    log_actions,
    page_context,
)

JOB_ACTION_LABELS = {"requeue": "Requeue", "cancel": "Cancel job", "stop": "Stop job",
                     "delete": "Delete job"}
#: what the browser asks before an action that cannot be undone (none: no question)
QUESTIONS = {"stop": "Stop this running job now? It is recorded as stopped.",
             "delete": "Delete this job and its results? This cannot be undone."}
BULK_ACTIONS = [
    ("requeue", "Requeue selected jobs", None), ("cancel", "Cancel selected jobs", None),
    ("stop", "Stop selected jobs", "Stop the selected running jobs now?"),
    ("delete", "Delete selected jobs", "Delete the selected jobs? This cannot be undone."),
]
DONE = {"requeue": "requeued", "cancel": "canceled", "stop": "asked to stop",
        "delete": "deleted"}
#: most ids one bulk POST may name (the largest page)
MAX_SELECTED = 500


@dataclass(frozen=True)
class QueueAction:
    slug: str
    label: str
    #: the tab that offers it
    state: str
    question: str


QUEUE_ACTIONS = {
    "requeue-failed": QueueAction("requeue-failed", "Requeue all failed jobs", "failed",
                                  "Requeue {jobs} of queue {queue}?"),
    "delete-failed": QueueAction("delete-failed", "Delete all failed jobs", "failed",
                                 "Delete {jobs} of queue {queue}? This cannot be undone."),
    "empty": QueueAction("empty", "Empty the queue", "queued",
                         "Delete {jobs} of queue {queue}? This cannot be undone."),
}


#: pause and resume: POST only, no confirmation page (nothing is lost either way)
QUEUE_SWITCHES = {"pause": "Pause the queue", "resume": "Resume the queue"}


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def _all_jobs(count: int, state: str) -> str:
    if count == 1:
        return f"the 1 {state} job"
    return f"all {count} {state} jobs" if count else f"the {state} jobs (there are none now)"


#: why a selected job was left alone, by outcome
REASONS = {"missing": ("no longer exists", "no longer exist"),
           "elsewhere": ("belongs to another queue", "belong to another queue"),
           "over-limit": (f"was past the {MAX_SELECTED} one action takes",
                          f"were past the {MAX_SELECTED} one action takes")}


def _reason(outcome: str, count: int) -> str:
    if outcome in REASONS:
        return REASONS[outcome][count != 1]
    status = outcome.split(":", 1)[-1]
    return f"is {status}" if count == 1 else f"are {status}"


def _report(request: HttpRequest, action: str, outcomes: dict[str, str]) -> list[str]:
    """Messages for the outcome of an action; returns the ids it was done to."""
    done = [job_id for job_id, outcome in outcomes.items() if outcome == "ok"]
    if done or not outcomes:
        messages.success(request, f"{_jobs(len(done))} {DONE[action]}.")
    refused: dict[str, int] = {}
    for outcome in outcomes.values():
        if outcome != "ok":
            refused[outcome] = refused.get(outcome, 0) + 1
    if refused:
        detail = ", ".join(f"{n} {_reason(outcome, n)}" for outcome, n in refused.items())
        messages.warning(request, f"{_jobs(sum(refused.values()))} not {DONE[action]}: "
                                  f"{detail}.")
    return done


def _log(request: HttpRequest, action: str, queue: str, job_ids: list[str]) -> None:
    verb = DONE[action].capitalize()
    log_actions(request.user, [(job_id, f"{verb} job {job_id} of queue {queue}.")
                               for job_id in job_ids], deletion=action == "delete")


@guarded(can_change)
def job_action(request: HttpRequest, queue: str, job_id: str, action: str,
               site: Any) -> HttpResponse:
    q = data.queue_or_404(queue)
    if action not in JOB_ACTION_LABELS:
        raise data.NotFound(f"{action!r} is not an action.")
    if not data.valid_job_id(job_id):
        raise data.NotFound(f"{job_id!r} is not a job id.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    status, origin = q.connection.hmget(keys.job(job_id), ["status", "origin"])
    if data.decode_text(origin) != q.name:
        raise data.NotFound(f"No job {job_id!r} in queue {q.name!r}.")
    done = _report(request, action, apply_to_many(q.connection, action, [job_id]))
    _log(request, action, q.name, done)
    links = Links(request)
    if action == "delete" and done:
        return HttpResponseRedirect(links.queue(q.name, tab_of(data.decode_text(status))))
    return HttpResponseRedirect(links.job(q.name, job_id))


def bulk(request: HttpRequest, q: Queue, state: str, site: Any) -> HttpResponse:
    """The action chosen for the selected rows of a queue tab (a POST to the tab's URL)."""
    if not can_change(request.user):
        return forbidden(request, site)
    back = HttpResponseRedirect(request.get_full_path())
    action = request.POST.get("action", "")
    ids = list(dict.fromkeys(request.POST.getlist("_selected_job")))
    if action not in JOB_ACTION_LABELS:
        messages.warning(request, "Choose an action.")
        return back
    if not ids:
        messages.warning(request, "Select the jobs to act on first.")
        return back
    valid = [i for i in ids if data.valid_job_id(i)]
    taken = valid[:MAX_SELECTED]
    pipe = q.connection.pipeline(transaction=False)
    for job_id in taken:
        pipe.hget(keys.job(job_id), "origin")
    origins = dict(zip(taken, (data.decode_text(o) for o in pipe.execute()), strict=True))
    # a job of another queue is never touched from this queue's page
    outcomes = apply_to_many(q.connection, action, [i for i in taken if origins[i] == q.name])
    if action == "delete":  # ids whose job expired while listed: take them off the tab too
        ghosts = [i for i in taken if not origins[i]]
        pipe = q.connection.pipeline(transaction=False)
        for job_id in ghosts:
            pipe.zrem(overview.state_key(q.name, state), job_id)
        outcomes.update({i: "ok" for i, removed in zip(ghosts, pipe.execute(), strict=True)
                         if removed})
    valid_ids = set(valid)
    for job_id in ids:
        if job_id in outcomes:
            continue
        if job_id in origins:  # looked up, not ours
            outcomes[job_id] = "elsewhere" if origins[job_id] else "missing"
        else:  # past the limit, or not even a job id
            outcomes[job_id] = "over-limit" if job_id in valid_ids else "missing"
    _log(request, action, q.name, _report(request, action, outcomes))
    return back


@guarded(can_change)
def queue_action(request: HttpRequest, queue: str, action: str, site: Any) -> HttpResponse:
    """GET: the confirmation page; POST: do it, in batches (100,000 jobs never sit in
    memory, and Redis is never held for more than one batch)."""
    q = data.queue_or_404(queue)
    if action in QUEUE_SWITCHES:
        return _switch(request, q, action)
    spec = QUEUE_ACTIONS.get(action)
    if spec is None:
        raise data.NotFound(f"{action!r} is not a queue action.")
    links = Links(request)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    (counts,), _ = overview.overview(q.connection, [q.name])
    count = dict(counts.by_state())[spec.state]
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        # logged first: a request cut short by a proxy's timeout is still on record
        log_actions(request.user, [(q.name, f"{spec.label} of queue {q.name} "
                                            f"({_jobs(count)} {spec.state} when confirmed).")])
        if spec.slug == "requeue-failed":
            text = f"{_jobs(q.failed_job_registry.requeue_all())} requeued."
        elif spec.slug == "delete-failed":
            text = f"{_jobs(q.failed_job_registry.delete_all())} deleted."
        else:
            text = f"{_jobs(q.empty())} deleted; the queue is empty."
        messages.success(request, text)
        return HttpResponseRedirect(links.queue(q.name, spec.state))
    return TemplateResponse(request, "django_jobqueue/confirm.html", page_context(
        request, site, spec.label, trail=[("Queues", links.dashboard()),
                                          (q.name, links.queue(q.name, spec.state)),
                                          (spec.label, None)],
        queue=q.name, action=spec,
        question=spec.question.format(queue=q.name, jobs=_all_jobs(count, spec.state)),
        cancel_url=links.queue(q.name, spec.state),
    ))


def _switch(request: HttpRequest, q: Queue, action: str) -> HttpResponse:
    """Pause or resume the queue; logged when it changed anything. Back to the tab the
    button was on."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if action == "pause":
        changed, done = q.pause(), "paused"
        news = "it accepts jobs, and no worker takes them until it is resumed"
    else:
        changed, done = q.resume(), "resumed"
        news = "workers take its jobs again"
    if changed:
        log_actions(request.user, [(q.name, f"{done.capitalize()} queue {q.name}.")])
        messages.success(request, f"Queue {q.name} {done}: {news}.")
    else:
        messages.info(request, f"Queue {q.name} was {done} already.")
    state = request.POST.get("state")
    return HttpResponseRedirect(Links(request).queue(
        q.name, state if state in overview.STATES else None))
