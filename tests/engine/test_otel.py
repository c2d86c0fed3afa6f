"""OpenTelemetry middleware (issue 12): a producer span per enqueue whose context travels in
the job, a consumer span per execution continuing that trace, their attributes and errors,
a job's own spans as children, nothing at all without a tracer provider, a pool's children
and a killed child's run.

Each test gets its own SDK TracerProvider (in-memory exporter) handed to a middleware it
installs, rather than the global provider: that one can be set only once per process, and
would trace every later test of the session. What the global provider changes is checked in
subprocesses (a fresh interpreter; a pool whose sitecustomize sets one)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from django_jobqueue import JobStatus, Queue, Retry, Worker
from django_jobqueue.engine import keys, middleware
from django_jobqueue.engine.moves import stop_job
from django_jobqueue.engine.observability.otel import OpenTelemetryMiddleware
from tests.engine import jobs_callbacks as jc
from tests.engine import jobs_otel
from tests.engine import jobs_pool as jp
from tests.engine.jobs_worker import in_thread, make_worker
from tests.harness import run_python, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def exporter():
    """A provider of this test's own, used by an installed middleware and the job functions."""
    found = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(found))
    installed = middleware.install(OpenTelemetryMiddleware(tracer_provider=provider))
    jobs_otel.use_provider(provider)
    yield found
    jobs_otel.use_provider(None)
    middleware.uninstall(installed)
    provider.shutdown()


def spans(exporter, name=None):
    found = [jobs_otel.as_dict(s) for s in exporter.get_finished_spans()]
    return [s for s in found if name is None or s["name"] == name]


def one(found):
    assert len(found) == 1, found
    return found[0]


def test_an_enqueue_and_its_run_are_one_trace(queue, connection, exporter):
    job = queue.enqueue(jobs_otel.add, 1, 2)
    send = one(spans(exporter, "send default"))
    assert job.trace_context["traceparent"].startswith(f"00-{send['trace_id']}-{send['span_id']}-")
    stored = json.loads(connection.hget(keys.job(job.id), "trace"))
    assert stored == job.trace_context
    worker = make_worker([queue], connection)
    worker.work(burst=True)
    assert job.return_value() == 3
    process = one(spans(exporter, "process default"))
    assert send["kind"] == "PRODUCER" and process["kind"] == "CONSUMER"
    assert process["trace_id"] == send["trace_id"]
    assert process["parent_id"] == send["span_id"]
    assert process["links"] == [send["span_id"]]  # the creation context, linked too
    assert send["attributes"] == {
        "messaging.system": "django_jobqueue", "messaging.operation.name": "send",
        "messaging.operation.type": "send", "messaging.destination.name": "default",
        "messaging.message.id": job.id}
    assert process["attributes"] == {
        "messaging.system": "django_jobqueue", "messaging.operation.name": "process",
        "messaging.operation.type": "process", "messaging.destination.name": "default",
        "messaging.message.id": job.id,
        "messaging.django_jobqueue.job.function": "tests.engine.jobs_otel.add",
        "messaging.django_jobqueue.job.attempt": 1,
        "messaging.django_jobqueue.job.outcome": "finished",
        "messaging.client.id": worker.name}
    assert process["status"] == "UNSET" and process["events"] == []


def test_enqueue_many_is_one_send_span_whose_context_every_job_carries(
        queue, connection, exporter):
    jobs = queue.enqueue_many([queue.prepare_data(jobs_otel.add, (n, n)) for n in range(3)])
    send = one(spans(exporter, "send default"))
    assert send["attributes"]["messaging.batch.message_count"] == 3
    assert "messaging.message.id" not in send["attributes"]
    make_worker([queue], connection).work(burst=True)
    processed = spans(exporter, "process default")
    assert sorted(s["attributes"]["messaging.message.id"] for s in processed) == sorted(
        j.id for j in jobs)
    assert {(s["trace_id"], s["parent_id"]) for s in processed} == {
        (send["trace_id"], send["span_id"])}


def test_a_failing_job_records_its_exception_and_an_error_status(queue, connection,
                                                                 exporter):
    job = queue.enqueue(jobs_otel.fails, "no luck")
    make_worker([queue], connection).work(burst=True)
    assert job.get_status() == JobStatus.FAILED
    process = one(spans(exporter, "process default"))
    assert process["status"] == "ERROR" and process["status_description"] == "no luck"
    assert process["attributes"]["error.type"] == "ValueError"
    assert process["attributes"]["messaging.django_jobqueue.job.outcome"] == "failed"
    event = one(process["events"])
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"
    assert event["attributes"]["exception.message"] == "no luck"
    assert "in fails" in event["attributes"]["exception.stacktrace"]


def test_each_attempt_of_a_retried_job_is_a_span_of_the_same_trace(queue, connection,
                                                                    exporter):
    job = queue.enqueue(jobs_otel.fails, "again", retry=Retry(max=1))
    make_worker([queue], connection).work(burst=True)
    assert job.get_status() == JobStatus.FAILED
    send = one(spans(exporter, "send default"))
    attempts = sorted(spans(exporter, "process default"),
                      key=lambda s: s["attributes"]["messaging.django_jobqueue.job.attempt"])
    assert [(s["attributes"]["messaging.django_jobqueue.job.attempt"],
             s["attributes"]["messaging.django_jobqueue.job.outcome"], s["status"],
             len(s["events"])) for s in attempts] == [(1, "retried", "ERROR", 1),
                                                      (2, "failed", "ERROR", 1)]
    assert {s["parent_id"] for s in attempts} == {send["span_id"]}


def test_a_retry_the_job_asks_for_is_not_an_error(queue, connection, exporter):
    job = queue.enqueue(jobs_otel.asks_for_a_retry_once, retry=Retry(max=1))
    make_worker([queue], connection).work(burst=True)
    assert job.return_value() == "done"
    attempts = sorted(spans(exporter, "process default"),
                      key=lambda s: s["attributes"]["messaging.django_jobqueue.job.attempt"])
    assert [(s["attributes"]["messaging.django_jobqueue.job.outcome"], s["status"],
             s["events"]) for s in attempts] == [("retried", "UNSET", []),
                                                 ("finished", "UNSET", [])]


def test_an_operator_s_stop_is_an_outcome_not_an_error(connection, exporter):
    queue = Queue("otelstop", connection=connection)
    job = queue.enqueue(jc.busy, 30, job_timeout=60)
    worker = Worker([queue], connection=connection, maintenance_interval=0.1)
    with in_thread(worker, burst=True):  # a worker thread: its own context
        wait_until(lambda: connection.exists("jqtest:busy-started"), timeout=10)
        stop_job(connection, job.id)
        wait_until(lambda: job.get_status() == JobStatus.STOPPED, timeout=10)
    wait_until(lambda: spans(exporter, "process otelstop"), timeout=10)
    process = one(spans(exporter, "process otelstop"))
    assert process["attributes"]["messaging.django_jobqueue.job.outcome"] == "stopped"
    assert process["status"] == "UNSET" and process["events"] == []
    assert process["parent_id"] == one(spans(exporter, "send otelstop"))["span_id"]


def test_what_the_job_traces_is_a_child_of_its_run(queue, connection, exporter):
    job = queue.enqueue(jobs_otel.traced, "t1")
    fan = queue.enqueue(jobs_otel.fans_out)
    make_worker([queue], connection).work(burst=True)
    seen = job.return_value()
    runs = {s["attributes"]["messaging.message.id"]: s
            for s in spans(exporter, "process default")}
    inner = one(spans(exporter, "inner t1"))
    assert seen["outer_span"] == runs[job.id]["span_id"]  # current while the function ran
    assert inner["parent_id"] == runs[job.id]["span_id"]
    assert inner["trace_id"] == runs[job.id]["trace_id"] == seen["outer_trace"]
    # a job enqueued by a job: its send span is a child of that run, its run follows
    child_id = fan.return_value()
    sends = {s["attributes"]["messaging.message.id"]: s for s in spans(exporter, "send default")}
    assert sends[child_id]["parent_id"] == runs[fan.id]["span_id"]
    assert runs[child_id]["parent_id"] == sends[child_id]["span_id"]
    assert runs[child_id]["trace_id"] == runs[fan.id]["trace_id"]


def test_other_keys_of_a_trace_context_are_kept(queue, connection, exporter):
    job = queue.create_job(jobs_otel.add, args=(1, 1))
    job.trace_context = {"sentry-trace": "abc-def-1"}
    queue.enqueue_job(job)
    stored = json.loads(connection.hget(keys.job(job.id), "trace"))
    assert stored["sentry-trace"] == "abc-def-1" and "traceparent" in stored


def test_a_job_that_cannot_be_read_still_gets_a_failed_span(queue, connection, exporter):
    job = queue.enqueue(jobs_otel.add, 1, 1)
    connection.hset(keys.job(job.id), "trace", "[1, 2]")  # its trace context itself
    make_worker([queue], connection).work(burst=True)
    assert job.get_status() == JobStatus.FAILED
    process = one(spans(exporter, "process default"))
    assert process["parent_id"] is None  # the context it carried is what was lost
    assert process["attributes"]["messaging.message.id"] == job.id
    assert process["attributes"]["messaging.django_jobqueue.job.outcome"] == "failed"
    assert process["status"] == "ERROR" and one(process["events"])["name"] == "exception"


NO_PROVIDER = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis import Redis
from django_jobqueue import Queue, Worker
from django_jobqueue.engine import keys, middleware
from tests.engine import jobs_otel

conn = Redis.from_url({url!r})
queue = Queue("otel", connection=conn)
plain = queue.enqueue(jobs_otel.traced, "plain")
Worker([queue], connection=conn).work(burst=True)
report = {{"installed": [type(m).__name__ for m in middleware.installed()],
          "context": plain.trace_context, "field": conn.hget(keys.job(plain.id), "trace"),
          "status": str(plain.get_status()), "seen": plain.return_value()}}
# a global provider set now: the middleware installed by default uses it from now on
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
traced = queue.enqueue(jobs_otel.add, 2, 3)
Worker([queue], connection=conn).work(burst=True)
report["traced_field"] = conn.hget(keys.job(traced.id), "trace") is not None
report["spans"] = sorted(s.name for s in exporter.get_finished_spans())
print(json.dumps(report))
"""


def test_without_a_tracer_provider_nothing_is_traced_and_nothing_breaks(redis_url):
    done = run_python(NO_PROVIDER.format(url=redis_url), JOBQUEUE_KEY_PREFIX=keys.prefix(),
                      JOBQUEUE_SIGNING_KEY="otel-test-key", OTEL_PYTHON_TRACER_PROVIDER=None)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "OpenTelemetryMiddleware" in report["installed"]
    assert report["context"] is None and report["field"] is None
    assert report["status"] == "finished"
    assert report["seen"]["outer_span"] == "0" * 16  # no span around the job
    assert report["traced_field"] is True
    assert report["spans"] == ["process otel", "send otel"]


# --- pools: the worker processes trace with a provider their sitecustomize sets ----------


@pytest.fixture
def pool_spans(tmp_path, monkeypatch):
    """The path of the spans file every process of a pool started in this test writes."""
    site = tmp_path / "otel_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(jobs_otel.SITECUSTOMIZE)
    path = tmp_path / "spans.jsonl"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv(jobs_otel.SPANS_FILE_VARIABLE, str(path))
    return str(path)


def test_jobs_run_by_a_pool_child_continue_the_enqueue_trace(connection, pq, pools,
                                                             exporter, pool_spans):
    plain = pq.enqueue(jobs_otel.traced, "pooled")
    coroutine = pq.enqueue(jobs_otel.traced_async, "pooled-async")  # on the shared loop
    sends = {s["attributes"]["messaging.message.id"]: s
             for s in spans(exporter, f"send {jp.QUEUE}")}
    pools.start_pool("otp", 1, 2)  # two slots: their first calls of installed() race
    for job in (plain, coroutine):
        wait_until(lambda job=job: jp.status(job) == JobStatus.FINISHED, timeout=20,
                   message=pools.logs())
    found = wait_until(lambda: len(jobs_otel.read_spans(pool_spans)) >= 4 and
                       jobs_otel.read_spans(pool_spans), timeout=10, message=pools.logs())
    for job, tag in ((plain, "pooled"), (coroutine, "pooled-async")):
        process = one([s for s in found if s["name"] == f"process {jp.QUEUE}"
                       and s["attributes"]["messaging.message.id"] == job.id])
        inner = one([s for s in found if s["name"] == f"inner {tag}"])
        send = sends[job.id]
        assert process["trace_id"] == send["trace_id"]
        assert process["parent_id"] == send["span_id"]
        assert inner["parent_id"] == process["span_id"] and inner["pid"] == process["pid"]
        assert process["pid"] != send["pid"]  # run in the pool's child
        attributes = process["attributes"]
        assert attributes["messaging.django_jobqueue.job.outcome"] == "finished"
        assert attributes["messaging.client.id"].startswith("otp")  # the slot's name
        assert job.return_value()["outer_span"] == process["span_id"]


def test_a_killed_child_s_run_is_a_span_from_the_supervisor(connection, pq, pools, exporter,
                                                            pool_spans):
    stuck = pq.enqueue(jp.stubborn, 60, job_timeout=1)
    send = one(spans(exporter, f"send {jp.QUEUE}"))
    supervisor = pools.start_pool("otk", 1, 1, "--grace", "0.5")
    wait_until(lambda: jp.status(stuck) == JobStatus.FAILED, timeout=20, message=pools.logs())
    found = wait_until(lambda: jobs_otel.read_spans(pool_spans), timeout=10,
                       message=pools.logs())
    killed = one(found)  # the child's own span never ended: it was killed
    assert killed["name"] == f"process {jp.QUEUE}" and killed["kind"] == "CONSUMER"
    assert killed["pid"] == supervisor.pid
    assert killed["trace_id"] == send["trace_id"] and killed["parent_id"] == send["span_id"]
    attributes = killed["attributes"]
    assert attributes["messaging.django_jobqueue.job.killed"] is True
    assert attributes["messaging.django_jobqueue.job.outcome"] == "failed"
    assert attributes["messaging.message.id"] == stuck.id
    assert attributes["error.type"] == "django_jobqueue.engine.exceptions.JobTimeoutException"
    assert killed["status"] == "ERROR"
    assert "killed after exceeding its timeout of 1 s" in killed["status_description"]
    assert killed["end"] - killed["start"] >= 1e9  # from the run's start: past its timeout
