"""OpenTelemetry tracing of jobs (issue 12), after the messaging semantic conventions v1.44.0
(``docs/messaging/messaging-spans.md``, status Development):

- one enqueue round trip (``enqueue``, ``enqueue_many``, a chain, a group: one
  ``Queue._enqueue_jobs`` call) is one ``send <queue>`` PRODUCER span, current while the jobs
  are sent (a Redis instrumentation's spans become its children); its context is injected
  with the global propagator into every job's ``trace_context``, as the jobs' creation
  context. The conventions allow this when no per-message "create" span exists; they
  recommend "create" spans for batch APIs, which a batch of thousands would pay for in
  spans, so none is made (a batch carries ``messaging.batch.message_count`` instead).
- every execution (function and callbacks) is one ``process <queue>`` CONSUMER span, current
  while the job runs, whose parent is the job's creation context (the conventions' option for
  single-message processing, which this documents as they ask) and which links to it; an
  ambient span of the worker's process, if any, is linked too.
- a job whose pool child the supervisor killed gets a short ``process <queue>`` span, made
  by the supervisor from the job's trace context, spanning from the run's start to the kill.

Outcomes (``messaging.django_jobqueue.job.outcome``): finished, failed, retried, stopped. A
run that raised (a retry following or not) records its exception and has status ERROR with
``error.type``; a retry the job asked for and an operator's stop are not errors (as the
worker's log says), their status stays unset.

Cost: with the API's default provider (proxy or no-op: nothing configured) every hook
returns a shared null context after one provider look-up and an identity check.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from ..exceptions import JobStopRequested, JobTimeoutException
from ..middleware import Middleware
from ..states import JobStatus

SYSTEM = "django_jobqueue"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"

# the conventions' attribute keys (messaging.*, error.type)
MESSAGING_SYSTEM = "messaging.system"
OPERATION_NAME = "messaging.operation.name"
OPERATION_TYPE = "messaging.operation.type"
DESTINATION = "messaging.destination.name"
MESSAGE_ID = "messaging.message.id"
BATCH_COUNT = "messaging.batch.message_count"
CLIENT_ID = "messaging.client.id"
ERROR_TYPE = "error.type"
# this system's own, in its messaging.{system} namespace as the conventions require
FUNCTION = "messaging.django_jobqueue.job.function"
ATTEMPT = "messaging.django_jobqueue.job.attempt"
OUTCOME = "messaging.django_jobqueue.job.outcome"
KILLED = "messaging.django_jobqueue.job.killed"

_NULL = contextlib.nullcontext()
_NO_TRACING = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
#: the execution this context runs (set by ``running``, read by ``ended``)
_processing: contextvars.ContextVar[_Processing | None] = contextvars.ContextVar(
    "django_jobqueue_otel_processing", default=None)
#: what a killed run's text starts with -> the exception it stands for
_KILL_EXCEPTIONS = {"JobTimeoutException": JobTimeoutException,
                    "JobStopRequested": JobStopRequested}


class OpenTelemetryMiddleware(Middleware):
    """Producer and consumer spans for jobs; ``tracer_provider``: the global one when None
    (looked up at every hook, so a provider set after the first job is used from then on)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._given = tracer_provider
        self._cached: tuple[Any, trace.Tracer | None] = (None, None)

    def tracer(self) -> trace.Tracer | None:
        """The tracer to use, or None while no real provider is set (the API's proxy or
        no-op): the hooks then do nothing. Cached per provider object."""
        provider = self._given if self._given is not None else trace.get_tracer_provider()
        cached_for, tracer = self._cached
        if provider is cached_for:
            return tracer
        tracer = None if isinstance(provider, _NO_TRACING) else provider.get_tracer(
            "django_jobqueue", _version(), schema_url=SCHEMA_URL)
        self._cached = (provider, tracer)  # one assignment: threads see a consistent pair
        return tracer

    def flush(self) -> None:
        """Before a pool child's ``os._exit``: export what a batch processor still holds."""
        provider = self._given if self._given is not None else trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None and not isinstance(provider, _NO_TRACING):
            force_flush(5000)

    def enqueuing(self, queue_name: str, jobs: Sequence[Any]
                  ) -> contextlib.AbstractContextManager:
        tracer = self.tracer()
        return _NULL if tracer is None else _Sending(tracer, queue_name, jobs)

    def running(self, job: Any) -> contextlib.AbstractContextManager:
        tracer = self.tracer()
        return _NULL if tracer is None else _Processing(self, tracer, job)

    def ended(self, job: Any, outcome: Any, recording: Any) -> None:
        current = _processing.get()
        while current is not None:  # this middleware's run of this job (another may nest)
            if current.owner is self and current.job is job:
                current.ended(outcome, recording)
                return
            current = current.outer
        if recording.succeeded:
            return
        tracer = self.tracer()
        if tracer is not None:  # a corrupt job: decided (failed) without running
            _short_span(tracer, job, recording, outcome.exception, outcome.exc_info or "",
                        getattr(outcome, "started", None), killed=False)

    def killed(self, job: Any, recording: Any) -> None:
        tracer = self.tracer()
        if tracer is None:
            return
        started = getattr(job, "started_at", None) if job is not None else None
        _short_span(tracer, job, recording, _kill_exception(recording.exc_info),
                    recording.exc_info, started, killed=True)


class _Sending(contextlib.AbstractContextManager):
    """The ``send <queue>`` span of one enqueue round trip; its context goes into each job."""

    def __init__(self, tracer: trace.Tracer, queue_name: str, jobs: Sequence[Any]) -> None:
        self.tracer, self.queue_name, self.jobs = tracer, queue_name, jobs
        self.span: Any = None
        self.token: Any = None

    def __enter__(self) -> Any:
        jobs = self.jobs
        attributes: dict[str, Any] = {MESSAGING_SYSTEM: SYSTEM, OPERATION_NAME: "send",
                                      OPERATION_TYPE: "send", DESTINATION: self.queue_name}
        if len(jobs) == 1:
            attributes[MESSAGE_ID] = str(jobs[0].id)
        else:
            attributes[BATCH_COUNT] = len(jobs)
        self.span = self.tracer.start_span(f"send {self.queue_name}", kind=SpanKind.PRODUCER,
                                           attributes=attributes)
        sending = trace.set_span_in_context(self.span)
        self.token = otel_context.attach(sending)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=sending)
        for job in jobs:  # other keys (another middleware's) are kept
            job.trace_context = {**job.trace_context, **carrier} if job.trace_context \
                else dict(carrier)
        return self.span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.token is not None:
            otel_context.detach(self.token)
        if self.span is not None:
            if exc is not None:
                _record_error(self.span, exc)
            self.span.end()
        return False


class _Processing(contextlib.AbstractContextManager):
    """The ``process <queue>`` span of one execution, current while it runs."""

    def __init__(self, owner: OpenTelemetryMiddleware, tracer: trace.Tracer, job: Any) -> None:
        self.owner, self.tracer, self.job = owner, tracer, job
        self.outer: _Processing | None = None
        self.span: Any = None
        self.tokens: tuple[Any, Any] | None = None
        self.decided = False

    def __enter__(self) -> Any:
        job = self.job
        parent, links = _creation_parent(job.trace_context)
        self.span = self.tracer.start_span(
            f"process {job.origin}", context=parent, kind=SpanKind.CONSUMER, links=links,
            attributes=_job_attributes(job, job.attempts))
        attached = otel_context.attach(trace.set_span_in_context(self.span, parent))
        self.outer = _processing.get()
        self.tokens = (attached, _processing.set(self))
        return self.span

    def ended(self, outcome: Any, recording: Any) -> None:
        """The outcome is decided (still inside the run): its attributes and status."""
        self.decided = True
        span = self.span
        span.set_attribute(OUTCOME, _outcome(recording))
        span.set_attribute(CLIENT_ID, str(recording.worker))
        asked = recording.retry and outcome.retry_request is not None
        if recording.succeeded or asked or recording.final == JobStatus.STOPPED:
            return
        if outcome.exception is not None:
            _record_error(span, outcome.exception)
        else:
            _record_error_text(span, outcome.exc_info or "")

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.tokens is not None:
            attached, processing = self.tokens
            _processing.reset(processing)
            otel_context.detach(attached)
        if self.span is not None:
            if exc is not None and not self.decided:  # a forced stop of the worker
                _record_error(self.span, exc)
            self.span.end()
        return False


def _creation_parent(carried: dict[str, str] | None) -> tuple[Context | None, list[Link] | None]:
    """The job's creation context as the parent (with a link to it, and to an ambient span
    if there is one); without one, the ambient context (None) and no link."""
    if not carried:
        return None, None
    parent = propagate.extract(carried, context=Context())
    created = trace.get_current_span(parent).get_span_context()
    if not created.is_valid:
        return None, None
    links = [Link(created)]
    ambient = trace.get_current_span().get_span_context()
    if ambient.is_valid:
        links.append(Link(ambient))
    return parent, links


def _job_attributes(job: Any, attempt: Any) -> dict[str, Any]:
    """A process span's attributes at its start (``job`` may be None: a killed run whose job
    is gone; the caller then sets the destination and message id)."""
    attributes: dict[str, Any] = {MESSAGING_SYSTEM: SYSTEM, OPERATION_NAME: "process",
                                  OPERATION_TYPE: "process"}
    if job is not None:
        attributes[DESTINATION] = str(job.origin)
        attributes[MESSAGE_ID] = str(job.id)
        func_name = getattr(job, "func_name", None)
        if func_name:
            attributes[FUNCTION] = str(func_name)
    if isinstance(attempt, int):
        attributes[ATTEMPT] = attempt
    return attributes


def _outcome(recording: Any) -> str:
    if recording.succeeded:
        return "finished"
    if recording.retry:
        return "retried"
    return "stopped" if recording.final == JobStatus.STOPPED else "failed"


def _short_span(tracer: trace.Tracer, job: Any, recording: Any, exception: Any,
                exc_info: str, started: Any, killed: bool) -> None:
    """A run that had no ``running`` span in this process (its pool child was killed, or the
    job could not be read): a span of its own, continuing the job's trace when known."""
    carried = getattr(job, "trace_context", None) if job is not None else None
    parent, links = _creation_parent(carried)
    attributes = _job_attributes(job, recording.attempt)
    attributes.update({DESTINATION: str(recording.queue), MESSAGE_ID: str(recording.job_id),
                       OUTCOME: _outcome(recording), CLIENT_ID: str(recording.worker)})
    if killed:
        attributes[KILLED] = True
    span = tracer.start_span(f"process {recording.queue}", context=parent,
                             kind=SpanKind.CONSUMER, links=links, attributes=attributes,
                             start_time=_nanoseconds(started))
    try:
        if not recording.succeeded and recording.final != JobStatus.STOPPED:
            if exception is not None:
                _record_error(span, exception)
            else:
                _record_error_text(span, exc_info)
    finally:
        span.end()


def _record_error(span: Any, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_attribute(ERROR_TYPE, _qualified_name(type(exc)))
    span.set_status(Status(StatusCode.ERROR, str(exc)))


def _record_error_text(span: Any, exc_info: str) -> None:
    """A failure known only by its text: its last line says what it was."""
    lines = exc_info.strip().splitlines()
    span.set_attribute(ERROR_TYPE, "_OTHER")  # the conventions' value for an unknown type
    span.set_status(Status(StatusCode.ERROR, lines[-1][:500] if lines else None))


def _kill_exception(exc_info: str) -> BaseException | None:
    """The exception a killed run's text names (``JobTimeoutException: ...``), without a
    traceback: the run's own process, where it would have been raised, is gone."""
    name, _, message = exc_info.partition(": ")
    found = _KILL_EXCEPTIONS.get(name)
    return found(message) if found is not None else None


def _qualified_name(kind: type) -> str:
    """As the SDK's ``record_exception`` names it (``exception.type``)."""
    module = kind.__module__
    return f"{module}.{kind.__qualname__}" if module and module != "builtins" else \
        kind.__qualname__


def _nanoseconds(moment: Any) -> int | None:
    """A start time for the SDK: a datetime or epoch seconds; None: now."""
    if isinstance(moment, datetime):
        return int(moment.timestamp() * 1e9)
    if isinstance(moment, int | float) and moment > 0:
        return int(moment * 1e9)
    return None


def _version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version("django-jobqueue")
    except PackageNotFoundError:
        return None
