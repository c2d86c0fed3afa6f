"""What the admin pages show, read from Redis with a fixed number of round trips per page,
and shown field by field so that one unreadable value never hides the rest."""

from __future__ import annotations

import pprint
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..engine import fields, keys, utils
from ..engine.callbacks import KINDS, from_stored
from ..engine.calls import JOB_ID_PATTERN
from ..engine.limits import parse_rate
from ..engine.queue import Queue
from ..engine.results import RESULTS_KEPT_MAX, Result
from ..engine.serializers import loads_signed, serializer_for
from ..engine.states import operator_actions
from ..integration import settings
from ..integration.clients import get_client
from ..integration.queues import get_queue
from . import tracebacks
from .times import shown_time

#: characters of a value shown before "show all"
SHORT = 300
#: most characters of one value a page carries
LONGEST = 100_000


class NotFound(Exception):
    """An unknown queue, state or job: the page answers with the admin's 404."""


def queue_or_404(name: str) -> Queue:
    if name not in settings.load().queues:
        raise NotFound(f"No queue named {name!r} is configured.")
    return get_queue(name)


def connection_name(queue_name: str) -> str:
    return settings.load().queues[queue_name].connection


# --------------------------------------------------------------------------- job page


def job_origin(queue_name: str, job_id: str) -> str | None:
    """The queue a job belongs to, looked up on the connection of ``queue_name``."""
    client = get_client(connection_name(queue_name))
    return decode_text(client.hget(keys.job(job_id), "origin")) or None


@dataclass
class Value:
    """One field of the job page: ``text`` (escaped by the template), shortened to
    ``short`` when long; ``problem`` when it could not be read (the text, if any, is what
    is stored); ``note`` when it is shown other than usual (a time in UTC)."""

    label: str
    text: str = ""
    problem: str | None = None
    pre: bool = False
    link: str | None = None
    #: the preview of a long value shows its end (a traceback's error), not its start
    tail: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.text) > LONGEST:  # a page never carries megabytes of one value
            cut = len(self.text) - LONGEST
            self.text = (f"[first {cut} characters not shown]\n" + self.text[-LONGEST:]
                         if self.tail else
                         self.text[:LONGEST] + f"\n[last {cut} characters not shown]")

    @property
    def short(self) -> str | None:
        if len(self.text) <= SHORT:
            return None
        return tracebacks.preview(self.text) if self.tail else self.text[:SHORT] + "…"


def time_value(label: str, value: Any) -> Value:
    """A time (a datetime, or a stored value that should be one) through the one formatter."""
    shown = shown_time(value)
    if shown is None:
        return Value(label)
    if shown.problem:
        return Value(label, shown.day, problem=shown.problem)
    return Value(label, str(shown), note=shown.note)


@dataclass
class JobDetail:
    id: str
    queue: str
    #: as stored (an unknown status too), for display
    status: str | None
    func_name: str | None
    fields: list[Value]
    call: list[Value]
    results: list[dict[str, Any]]
    problems: list[str]
    #: enqueued_at, started_at, ended_at when stored and readable (the wait and run rows)
    times: dict[str, datetime]
    #: what an operator may do with it (the engine's state machine decides)
    actions: list[str]
    raw_fields: list[tuple[str, str]]


def valid_job_id(job_id: str) -> bool:
    return bool(JOB_ID_PATTERN.fullmatch(job_id))


def read_job(queue: Queue, job_id: str) -> JobDetail:
    """Every field of one job that can be shown (one round trip), read with the engine's
    lenient decoder: a corrupt field is shown as stored, saying what is wrong with it."""
    if not valid_job_id(job_id):
        raise NotFound(f"{job_id!r} is not a job id.")
    pipe = queue.connection.pipeline(transaction=False)
    pipe.hgetall(keys.job(job_id))
    pipe.lrange(keys.results(job_id), 0, RESULTS_KEPT_MAX - 1)
    pipe.ttl(keys.job(job_id))
    pipe.zscore(keys.registry("scheduled", queue.name), job_id)
    raw, results, ttl, due = pipe.execute()
    if not raw:
        raise NotFound(f"No job {job_id!r} (it may have expired or been deleted).")
    if decode_text(raw.get(b"origin")) != queue.name:
        raise NotFound(f"Job {job_id!r} does not belong to queue {queue.name!r}.")
    found, wrong = _decode(raw)
    problems = list(wrong.values())

    def shown(label: str, name: str, **options: Any) -> Value:
        stored = raw.get(name.encode())
        if name in fields.TIME_FIELDS:
            return time_value(label, found.get(name, stored))
        if name in wrong:  # as stored, and what is wrong with it
            return Value(label, decode_text(stored), problem=wrong[name], **options)
        value = found.get(name)
        if isinstance(value, list):
            return Value(label, ", ".join(str(item) for item in value), **options)
        return Value(label, "" if value is None else str(value), **options)

    # as stored, even when unknown; a page never carries a long one twice
    status = decode_text(raw.get(b"status"))[:SHORT] or None
    serializer = _serializer(raw.get(b"serializer"), queue.serializer, problems)
    parsed_results = [_result(job_id, b, serializer) for b in results]
    func_name = found.get("func_name") or decode_text(raw.get(b"func_name"))
    call, call_text = _call_values(func_name, found.get("data"), found.get("meta"),
                                   serializer, problems)
    description = shown("Description", "description")
    if not description.text and not description.problem and call_text:  # as RQ shows it
        description = Value("Description", call_text, note="none given: the call")
    fields_shown = [shown("Status", "status"), shown("Function", "func_name"), description]
    if raw.get(b"exc_info"):  # what went wrong comes first, its last lines (the error) in view
        fields_shown.append(shown("Traceback", "exc_info", pre=True, tail=True))
    if raw.get(b"canceled_reason"):  # a dependency's end canceled it (engine/dependencies.py)
        fields_shown.append(shown("Canceled because", "canceled_reason"))
    if status == "finished" and parsed_results and parsed_results[0]["type"] == "finished":
        fields_shown.append(Value("Result", parsed_results[0]["value"].text, pre=True))
    if due is not None:  # a job that has run before waits for its next attempt (a retry)
        fields_shown.append(time_value("Next attempt due" if found.get("attempts")
                                       else "Scheduled for", due))
    fields_shown += [
        shown("Queue", "origin"), shown("Worker", "worker_name"),
        shown("Created", "created_at"), shown("Enqueued", "enqueued_at"),
        shown("Started", "started_at"), shown("Ended", "ended_at"),
        shown("Timeout (s)", "timeout"), shown("Result TTL (s)", "result_ttl"),
        shown("Failure TTL (s)", "failure_ttl"), shown("TTL (s)", "ttl"),
        Value("Expires in", _expires_in(ttl)),
        shown("Priority", "priority"), shown("Attempts", "attempts"),
        shown("Retries left", "retries_left"), shown("Retry max", "retry_max"),
        shown("Retry intervals (s)", "retry_intervals"), shown("Retry backoff", "retry_backoff"),
        shown("Retry max interval (s)", "retry_max_interval"),
        shown("Retry jitter", "retry_jitter"), shown("Retry on", "retry_on"),
        shown("On worker lost", "on_worker_lost"), shown("Workers lost", "lost_count"),
        shown("Last worker lost at", "last_lost_at"),
        shown("Last lost worker", "last_lost_worker"), shown("Serializer", "serializer"),
        shown("Unique key", "unique_key"), shown("Unique for (s)", "unique_for"),
        shown("Periodic job", "periodic"), shown("Tick", "tick_at"), shown("Chain", "chain_id"),
        shown("Group", "group"), shown("Limit key", "limit_key"),
        _rate_value(shown("Rate limit", "limit_rate")),
        shown("Concurrency limit", "limit_concurrency"),
    ]
    fields_shown = [v for v in fields_shown if v.text or v.problem or v.label not in OPTIONAL]
    for value in fields_shown:
        if value.label == "On worker lost" and not value.text and not value.problem:
            value.text = "requeue (the default)"
        elif value.text == "" and not value.problem:
            value.text = "—"
    if "dependency_ids" in wrong:
        fields_shown.append(shown("Dependency", "dependency_ids"))
    # one row each; the page links those that are job ids
    fields_shown += [Value("Dependency", d) for d in found.get("dependency_ids", [])]
    return JobDetail(
        id=job_id, queue=queue.name, status=status, func_name=func_name,
        fields=fields_shown, call=call, results=parsed_results, problems=problems,
        times={name: found[name] for name in ("enqueued_at", "started_at", "ended_at")
               if isinstance(found.get(name), datetime) and name not in wrong},
        actions=operator_actions(found.get("status")),
        raw_fields=[(decode_text(k), _raw(v)) for k, v in sorted(raw.items())]
        if problems else [],
    )


def _decode(raw: dict[bytes, bytes]) -> tuple[dict[str, Any], dict[str, str]]:
    """The job hash through the engine's lenient decoder, one field at a time so that each
    problem is known by its field: (decoded values, field -> what is wrong with it). An
    unknown status counts as none (the job may still be deleted)."""
    found: dict[str, Any] = {}
    wrong: dict[str, str] = {}
    for key, stored in raw.items():
        problems: list[str] = []
        found.update(fields.decode_job({key: stored}, lenient=True, problems=problems))
        if problems:
            wrong[decode_text(key)] = problems[0]
    return found, wrong


#: rows of the job page left out when the job does not set them
OPTIONAL = {"Description", "Result TTL (s)", "Failure TTL (s)", "TTL (s)", "Retries left",
            "Retry max", "Retry intervals (s)", "Retry backoff", "Retry max interval (s)",
            "Retry jitter", "Retry on", "Workers lost", "Last worker lost at",
            "Last lost worker", "Serializer", "Unique key", "Unique for (s)",
            "Periodic job", "Tick", "Chain", "Group", "Limit key", "Rate limit",
            "Concurrency limit"}


def _rate_value(value: Value) -> Value:
    """A stored rate (``100/60``) in words: ``100 starts per 60 s``."""
    if not value.text or value.problem:
        return value
    try:
        starts, seconds = parse_rate(value.text)
    except ValueError:
        return Value(value.label, value.text, problem="not a rate (starts/seconds)")
    return Value(value.label, f"{starts} starts per {seconds:g} s", note=f"stored as {value.text}")


def _expires_in(ttl: int | None) -> str:
    if ttl is None or ttl == -1:
        return "never"
    if ttl < 0:
        return "gone (deleted or expired just now)"
    days, rest = divmod(ttl, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{rest // 60} min"]
    return f"{' '.join(parts)} ({ttl} s)"


def _serializer(stored: bytes | None, fallback: Any, problems: list[str]) -> Any:
    serializer = serializer_for(decode_text(stored), fallback)
    if getattr(serializer, "unknown", False):
        problems.append(f"Serializer {serializer.path!r} is not configured in this process")
    return serializer


def _call_values(func_name: str, data: bytes | None, meta: bytes | None, serializer: Any,
                 problems: list[str]) -> tuple[list[Value], str]:
    """The Call table's rows, and the call as text (``tests.add(1, 2)``; "" when the call
    data cannot be read)."""
    values, text = [], ""
    if data is None:
        problems.append("Call data: none stored")
        values.append(Value("Arguments", problem="no call data stored"))
    else:
        try:
            func_name, instance, args, kwargs, *stored = loads_signed(serializer, data)
            callbacks = from_stored(stored)
        except Exception as exc:  # shown, never raised: the page must render
            problems.append(f"Call data unreadable: {type(exc).__name__}: {exc}")
            values.append(Value("Arguments", problem=f"{type(exc).__name__}: {exc}"))
        else:
            values += [Value("Args", safe_repr(tuple(args)), pre=True),
                       Value("Kwargs", safe_repr(dict(kwargs)), pre=True)]
            text = call_text(func_name, args, kwargs)
            if instance is not None:
                values.append(Value("Instance", safe_repr(instance), pre=True))
            if any(callbacks):
                values.append(Value("Callbacks", ", ".join(
                    f"{kind}={spec.func_name if spec else '—'}"
                    + (f" (timeout {spec.timeout} s)" if spec and spec.timeout else "")
                    for kind, spec in zip(KINDS, callbacks, strict=True))))
    if meta:
        try:
            values.append(Value("Meta", safe_repr(loads_signed(serializer, meta)), pre=True))
        except Exception as exc:
            problems.append(f"Meta unreadable: {type(exc).__name__}: {exc}")
            values.append(Value("Meta", problem=f"{type(exc).__name__}: {exc}"))
    return values, text


#: characters of one argument in a call's text
ARGUMENT = 40


def call_text(func_name: str, args: Any, kwargs: Any) -> str:
    """``func(1, 'a', key=2)``, as RQ describes a job: each argument's repr cut at ARGUMENT
    characters, the whole at SHORT."""
    def cut(value: Any) -> str:
        try:
            text = repr(value)
        except Exception as exc:  # a __repr__ that raises
            text = f"<unrepresentable {type(value).__name__}: {exc}>"
        return text if len(text) <= ARGUMENT else text[:ARGUMENT] + "…"

    try:
        parts = [cut(a) for a in args] + [f"{k}={cut(v)}" for k, v in dict(kwargs).items()]
    except Exception:  # arguments that are no sequence or mapping: shown in the Call table
        return ""
    text = f"{func_name or '?'}({', '.join(parts)})"
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def _result(job_id: str, blob: bytes, serializer: Any) -> dict[str, Any]:
    try:
        result = Result.from_payload(job_id, blob, serializer)
    except Exception as exc:  # shown, never raised (e.g. a time no datetime holds)
        result = Result(job_id, Result.Type.FAILED,
                        exc_string=f"Malformed result entry: {type(exc).__name__}: {exc}")
    text = safe_repr(result.return_value) if result.type == Result.Type.SUCCESSFUL \
        else (result.exc_string or "")
    label = "finished" if result.type == Result.Type.SUCCESSFUL else result.type.name.lower()
    return {
        "type": label, "worker": result.worker_name, "attempt": result.attempt or "",
        "started_at": shown_time(result.started_at), "ended_at": shown_time(result.ended_at),
        "duration": f"{result.duration * 1000:.1f} ms" if result.duration is not None else "",
        "value": Value("Outcome", text, pre=True, tail=result.type != Result.Type.SUCCESSFUL),
    }


def safe_repr(value: Any) -> str:
    try:
        return pprint.pformat(value, width=100, sort_dicts=False)
    except Exception as exc:  # a __repr__ that raises
        return f"<unrepresentable {type(value).__name__}: {exc}>"


def decode_text(value: bytes | None) -> str:
    return utils.decode_text(value) or ""


def _raw(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(value)} bytes of binary data>"
    return text if text.isprintable() else f"<{len(value)} bytes>"
