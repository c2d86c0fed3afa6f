"""What the admin pages show, read from Redis with a fixed number of round trips per page,
and shown field by field so that one unreadable value never hides the rest."""

from __future__ import annotations

import pprint
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from ..engine import keys, utils
from ..engine.calls import JOB_ID_PATTERN
from ..engine.job import JobStatus
from ..engine.moves import REQUEUE_ALLOWED
from ..engine.queue import Queue
from ..engine.results import RESULTS_KEPT, Result
from ..engine.serializers import loads_signed, serializer_for
from ..engine.utils import from_timestamp
from ..integration import settings
from ..integration.clients import get_client
from ..integration.queues import get_queue

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
    ``short`` when long; ``problem`` when it could not be read."""

    label: str
    text: str = ""
    problem: str | None = None
    pre: bool = False
    link: str | None = None
    #: the preview of a long value shows its end (a traceback's error), not its start
    tail: bool = False

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
        return "…" + self.text[-SHORT:] if self.tail else self.text[:SHORT] + "…"


@dataclass
class JobDetail:
    id: str
    queue: str
    status: str | None
    func_name: str | None
    fields: list[Value]
    call: list[Value]
    results: list[dict[str, Any]]
    problems: list[str]
    dependency_ids: list[str]
    raw_fields: list[tuple[str, str]]

    @property
    def actions(self) -> list[str]:
        """What an operator may do with the job in its status (see moves.apply_to_many)."""
        found = []
        if self.status in REQUEUE_ALLOWED:
            found.append("requeue")
        if self.status in ("queued", "scheduled", "deferred"):
            found.append("cancel")
        if self.status == "started":
            found.append("stop")
        return [*found, "delete"]


def valid_job_id(job_id: str) -> bool:
    return bool(JOB_ID_PATTERN.fullmatch(job_id))


def read_job(queue: Queue, job_id: str) -> JobDetail:
    """Every field of one job that can be shown (one round trip)."""
    if not valid_job_id(job_id):
        raise NotFound(f"{job_id!r} is not a job id.")
    pipe = queue.connection.pipeline(transaction=False)
    pipe.hgetall(keys.job(job_id))
    pipe.lrange(keys.results(job_id), 0, RESULTS_KEPT - 1)
    pipe.ttl(keys.job(job_id))
    pipe.zscore(keys.registry("scheduled", queue.name), job_id)
    raw, results, ttl, due = pipe.execute()
    if not raw:
        raise NotFound(f"No job {job_id!r} (it may have expired or been deleted).")
    get = lambda name: raw.get(name.encode())  # noqa: E731
    if decode_text(get("origin")) != queue.name:
        raise NotFound(f"Job {job_id!r} does not belong to queue {queue.name!r}.")
    problems: list[str] = []
    serializer = _serializer(get("serializer"), queue.serializer, problems)

    def text(label: str, name: str) -> Value:
        return Value(label, decode_text(get(name)))

    def stamp(label: str, name: str) -> Value:
        value = get(name)
        try:
            when = from_timestamp(value)
        except (TypeError, ValueError, OverflowError, OSError):
            return Value(label, decode_text(value), problem="not a timestamp")
        return Value(label, format_time(when))

    status = decode_text(get("status")) or None
    status_value = Value("Status", status or "")
    if status and status not in JobStatus._value2member_map_:
        status_value.problem = "unknown status"
    deps = [d for d in decode_text(get("dependency_ids")).split(",") if d]
    parsed_results = [_result(job_id, b, serializer) for b in results]
    fields = [status_value, text("Function", "func_name"), text("Description", "description")]
    exc_info = decode_text(get("exc_info"))
    if exc_info:  # what went wrong comes first, its last lines (the error) in view
        fields.append(Value("Traceback", exc_info, pre=True, tail=True))
    if status == "finished" and parsed_results and parsed_results[0]["type"] == "finished":
        fields.append(Value("Result", parsed_results[0]["value"].text, pre=True))
    if due is not None:
        fields.append(Value("Scheduled for", format_time(from_timestamp(due))))
    fields += [
        text("Queue", "origin"), text("Worker", "worker_name"),
        stamp("Created", "created_at"), stamp("Enqueued", "enqueued_at"),
        stamp("Started", "started_at"), stamp("Ended", "ended_at"),
        text("Timeout (s)", "timeout"), text("Result TTL (s)", "result_ttl"),
        text("Failure TTL (s)", "failure_ttl"), text("TTL (s)", "ttl"),
        Value("Expires in", _expires_in(ttl)),
        text("Priority", "priority"), text("Attempts", "attempts"),
        text("Retries left", "retries_left"), text("Retry max", "retry_max"),
        text("Retry intervals (s)", "retry_intervals"),
        Value("On worker lost", decode_text(get("on_worker_lost")) or "requeue (the default)"),
        text("Workers lost", "lost_count"),
        stamp("Last worker lost at", "last_lost_at"), text("Last lost worker", "last_lost_worker"),
        text("Serializer", "serializer"),
    ]
    fields = [v for v in fields if v.text or v.problem or v.label not in OPTIONAL]
    for value in fields:
        if value.text == "" and not value.problem:
            value.text = "—"
    call = _call_values(get("data"), get("meta"), serializer, problems)
    return JobDetail(
        id=job_id, queue=queue.name, status=status, func_name=decode_text(get("func_name")),
        fields=fields, call=call, results=parsed_results,
        problems=problems, dependency_ids=deps,
        raw_fields=[(decode_text(k), _raw(v)) for k, v in sorted(raw.items())]
        if problems else [],
    )


#: rows of the job page left out when the job does not set them
OPTIONAL = {"Description", "Result TTL (s)", "Failure TTL (s)", "TTL (s)", "Retries left",
            "Retry max", "Retry intervals (s)", "Workers lost", "Last worker lost at",
            "Last lost worker", "Serializer"}


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


def _call_values(data: bytes | None, meta: bytes | None, serializer: Any,
                 problems: list[str]) -> list[Value]:
    values = []
    if data is None:
        problems.append("Call data: none stored")
        values.append(Value("Arguments", problem="no call data stored"))
    else:
        try:
            func_name, instance, args, kwargs, on_success, on_failure = loads_signed(
                serializer, data)
        except Exception as exc:  # shown, never raised: the page must render
            problems.append(f"Call data unreadable: {type(exc).__name__}: {exc}")
            values.append(Value("Arguments", problem=f"{type(exc).__name__}: {exc}"))
        else:
            values += [Value("Args", safe_repr(tuple(args)), pre=True),
                       Value("Kwargs", safe_repr(dict(kwargs)), pre=True)]
            if instance is not None:
                values.append(Value("Instance", safe_repr(instance), pre=True))
            if on_success or on_failure:
                values.append(Value("Callbacks", f"on_success={on_success or '—'}, "
                                                 f"on_failure={on_failure or '—'}"))
    if meta:
        try:
            values.append(Value("Meta", safe_repr(loads_signed(serializer, meta)), pre=True))
        except Exception as exc:
            problems.append(f"Meta unreadable: {type(exc).__name__}: {exc}")
            values.append(Value("Meta", problem=f"{type(exc).__name__}: {exc}"))
    return values


def _result(job_id: str, blob: bytes, serializer: Any) -> dict[str, Any]:
    result = Result.from_payload(job_id, blob, serializer)
    text = safe_repr(result.return_value) if result.type == Result.Type.SUCCESSFUL \
        else (result.exc_string or "")
    label = "finished" if result.type == Result.Type.SUCCESSFUL else result.type.name.lower()
    return {
        "type": label, "worker": result.worker_name,
        "started_at": format_time(result.started_at), "ended_at": format_time(result.ended_at),
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


def format_time(when: datetime | None) -> str:
    """In the current time zone (as the listings show times), with its name."""
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S %Z") if when else ""
