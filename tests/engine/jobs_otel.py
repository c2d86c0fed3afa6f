"""Job functions and span plumbing for tests/engine/test_otel.py, importable by a worker or a
pool's children as ``tests.engine.jobs_otel`` (cwd = repository root).

A pool's processes get their tracer provider from a ``sitecustomize`` module the test puts
on their PYTHONPATH (what ``opentelemetry-instrument`` does too): it calls
``configure_from_environment``, whose exporter appends each finished span as a JSON line to
the file named by SPANS_FILE_VARIABLE, which the test then reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from django_jobqueue import Queue, RetryLater, get_current_job

SPANS_FILE_VARIABLE = "JOBQUEUE_TEST_SPANS_FILE"
SITECUSTOMIZE = "from tests.engine.jobs_otel import configure_from_environment\n" \
                "configure_from_environment()\n"

#: the provider the job functions open their spans with (in-process tests); None: global
_provider: TracerProvider | None = None


def use_provider(provider: TracerProvider | None) -> None:
    global _provider
    _provider = provider


def _tracer() -> trace.Tracer:
    return trace.get_tracer("tests.engine.jobs_otel", tracer_provider=_provider)


# --- job functions -----------------------------------------------------------------------


def add(a: int, b: int) -> int:
    return a + b


def fails(message: str) -> None:
    raise ValueError(message)


def asks_for_a_retry_once() -> str:
    """Asks to be run again on its first attempt (not an error), then finishes."""
    if get_current_job().attempts == 1:
        return RetryLater(0)
    return "done"


def traced(tag: str) -> dict[str, str]:
    """Opens a span of its own; returns the ids the current span had around it."""
    outer = trace.get_current_span().get_span_context()
    with _tracer().start_as_current_span(f"inner {tag}") as span:
        span.set_attribute("tag", tag)
        inner = span.get_span_context()
    return {"outer_span": format(outer.span_id, "016x"),
            "outer_trace": format(outer.trace_id, "032x"),
            "inner_span": format(inner.span_id, "016x")}


async def traced_async(tag: str) -> dict[str, str]:
    """``traced`` as a coroutine (a pool's child runs it on its shared event loop)."""
    return traced(tag)


def fans_out() -> str:
    """Enqueues another job from inside this one (its send span is a child of this run)."""
    job = get_current_job()
    return Queue(job.origin, connection=job.connection).enqueue(add, 1, 1).id


# --- spans as plain data -----------------------------------------------------------------


def as_dict(span: ReadableSpan) -> dict[str, Any]:
    """What the tests check of a span, the same from memory or from the file."""
    context, parent = span.context, span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent is not None else None,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "status_description": span.status.description,
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})}
                   for e in span.events],
        "links": [format(link.context.span_id, "016x") for link in span.links],
        "start": span.start_time,
        "end": span.end_time,
        "pid": os.getpid(),
    }


class JsonLinesExporter(SpanExporter):
    """Appends each span as one JSON line (one write per batch, O_APPEND: the pool's forked
    processes share the file safely)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(json.dumps(as_dict(span), default=list) + "\n" for span in spans)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, text.encode())
        finally:
            os.close(descriptor)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def configure_from_environment() -> None:
    """sitecustomize's call: a global provider exporting to the file, when one is named."""
    path = os.environ.get(SPANS_FILE_VARIABLE)
    if not path:
        return
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    trace.set_tracer_provider(provider)


def read_spans(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []
