"""Sentry error reporting (issue 12, observability/sentry.py) with the real sentry-sdk and
a transport that keeps events in memory (in a pool: files): what is reported (a final
failure, once; each attempt with report="every"; a hard-limit kill, by the supervisor),
what is not (a success, a retry the job asked for, an operator's stop, anything while
Sentry is not initialised), each execution's own scope, and the arguments only as
sentry-sdk's data settings allow."""

from __future__ import annotations

import signal

import pytest
import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

from django_jobqueue import JobStatus, Retry
from django_jobqueue.engine import middleware, steps
from django_jobqueue.engine.observability.sentry import SentryMiddleware
from tests.engine import jobs_pool as jp
from tests.engine import jobs_sentry as js
from tests.engine import jobs_worker as jobs
from tests.harness import wait_until

CONTEXT = "jobqueue-job"


@pytest.fixture
def use_middleware():
    """Installs SentryMiddleware(report=...) in place of the default instance; the
    defaults come back at teardown."""
    defaults = [m for m in middleware.installed() if isinstance(m, SentryMiddleware)]
    for found in defaults:
        middleware.uninstall(found)
    ours: list[SentryMiddleware] = []

    def use(report: str = "final") -> SentryMiddleware:
        ours.append(middleware.install(SentryMiddleware(report=report)))
        return ours[-1]

    yield use
    for found in ours:
        middleware.uninstall(found)
    for found in defaults:
        middleware.install(found)


@pytest.fixture
def sentry():
    """``sentry_sdk.init`` with the in-memory transport (options as keywords); the client
    is closed and unset afterwards (Sentry not initialised again)."""
    js.MemoryTransport.events.clear()

    def init(**options) -> list[dict]:
        sentry_sdk.init(dsn=js.DSN, transport=js.MemoryTransport, send_client_reports=False,
                        default_integrations=False, integrations=[LoggingIntegration()],
                        **options)
        return js.MemoryTransport.events

    yield init
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    js.MemoryTransport.events.clear()


def run_all(queue, connection) -> str:
    """Runs the queue's jobs in this process; returns the worker's name."""
    worker = jobs.make_worker([queue], connection)
    worker.work(burst=True)
    return worker.name


def job_events(events: list[dict]) -> list[dict]:
    """The events this middleware captured (mechanism ``jobqueue``)."""
    return [e for e in events
            if any((v.get("mechanism") or {}).get("type") == "jobqueue"
                   for v in e.get("exception", {}).get("values", ()))]


def exception_of(event: dict) -> dict:
    return event["exception"]["values"][-1]


# --------------------------------------------------------------------------- in this process


def test_a_final_failure_is_one_event_with_the_jobs_tags_and_context(
        queue, connection, sentry, use_middleware):
    events = sentry()
    use_middleware()
    job = queue.enqueue(js.fails, "kaput", code=3)
    worker = run_all(queue, connection)
    assert job.get_status() == JobStatus.FAILED
    (event,) = events
    assert event["tags"] == {
        "jobqueue.queue": "default", "jobqueue.job_id": job.id,
        "jobqueue.function": "tests.engine.jobs_sentry.fails", "jobqueue.attempt": "1",
        "jobqueue.worker": worker}
    assert exception_of(event)["type"] == "ValueError"
    assert exception_of(event)["value"] == "kaput"
    assert exception_of(event)["mechanism"] == {"type": "jobqueue", "handled": False}
    assert event["transaction"] == "tests.engine.jobs_sentry.fails"
    context = event["contexts"][CONTEXT]
    assert {k: context[k] for k in ("job_id", "queue", "function", "attempt", "worker",
                                    "status", "retry")} == {
        "job_id": job.id, "queue": "default", "function": "tests.engine.jobs_sentry.fails",
        "attempt": 1, "worker": worker, "status": "failed", "retry": False}
    # sentry-sdk's default (send_default_pii off): the arguments are not sent
    assert context["args"] == context["kwargs"] == "[Filtered]"
    assert "kaput" not in str(context)
    # the job's own breadcrumb is there
    assert "about to fail: kaput" in [c["message"] for c in event["breadcrumbs"]["values"]]


@pytest.mark.filterwarnings("ignore:.*send_default_pii.*deprecated:DeprecationWarning")
@pytest.mark.parametrize(("options", "expected"), [
    ({"send_default_pii": True}, (["secret"], {"code": 7})),
    ({"data_collection": {"queues": True}}, (["secret"], {"code": 7})),
    ({"send_default_pii": True, "data_collection": {"queues": False}}, None),
], ids=["send_default_pii", "data_collection-queues", "data_collection-no-queues"])
def test_the_arguments_go_as_sentrys_data_settings_allow(
        queue, connection, sentry, use_middleware, options, expected):
    events = sentry(**options)
    use_middleware()
    queue.enqueue(js.fails, "secret", code=7)
    run_all(queue, connection)
    (event,) = events
    context = event["contexts"][CONTEXT]
    if expected is None:
        assert "args" not in context and "kwargs" not in context
    else:
        assert (context["args"], context["kwargs"]) == expected


@pytest.mark.parametrize(("report", "attempts"), [("final", ["3"]),
                                                  ("every", ["1", "2", "3"])])
def test_a_job_retried_twice_is_reported_once_or_every_attempt(
        queue, connection, sentry, use_middleware, report, attempts):
    events = sentry()
    use_middleware(report)
    job = queue.enqueue(js.fails, "again", retry=Retry(max=2))
    run_all(queue, connection)
    assert job.get_status() == JobStatus.FAILED
    assert len(list(job.results())) == 3
    assert [e["tags"]["jobqueue.attempt"] for e in events] == attempts
    assert [e["contexts"][CONTEXT]["retry"] for e in events] == (
        [True, True, False] if report == "every" else [False])


def test_the_default_instance_reads_the_report_from_the_environment(monkeypatch, caplog):
    assert not SentryMiddleware().every
    monkeypatch.setenv("JOBQUEUE_SENTRY_REPORT", "every")
    assert SentryMiddleware().every
    monkeypatch.setenv("JOBQUEUE_SENTRY_REPORT", "sometimes")
    assert not SentryMiddleware().every
    assert "JOBQUEUE_SENTRY_REPORT='sometimes'" in caplog.text
    with pytest.raises(ValueError, match="report='sometimes'"):
        SentryMiddleware(report="sometimes")


def test_a_success_and_a_retry_the_job_asked_for_are_not_errors(
        queue, connection, sentry, use_middleware):
    events = sentry()
    use_middleware("every")
    queue.enqueue(js.succeeds, 5)
    asked = queue.enqueue(js.asks_for_a_retry, retry=Retry(max=1))
    run_all(queue, connection)
    # the second request found no retry left: that failure is final, and reported
    assert asked.get_status() == JobStatus.FAILED
    (event,) = events
    assert event["tags"]["jobqueue.job_id"] == asked.id
    assert event["tags"]["jobqueue.attempt"] == "2"


def test_without_sentry_initialised_nothing_is_reported_and_jobs_run(
        queue, connection, use_middleware):
    assert not sentry_sdk.get_client().is_active()
    js.MemoryTransport.events.clear()
    sentry_mw = use_middleware("every")
    failed = queue.enqueue(js.fails, "quietly", retry=Retry(max=1))
    done = queue.enqueue(js.succeeds, 2)
    run_all(queue, connection)
    assert failed.get_status() == JobStatus.FAILED
    assert done.return_value() == 2
    assert js.MemoryTransport.events == []
    # the running hook hands back one shared null context: no scope is made
    assert sentry_mw.running(failed) is sentry_mw.running(done)


def test_each_execution_has_its_own_scope(queue, connection, sentry, use_middleware):
    events = sentry()
    use_middleware()
    queue.enqueue(js.leaves_traces, "first")
    failing = queue.enqueue(js.fails, "second")
    run_all(queue, connection)
    (event,) = events
    assert event["tags"]["jobqueue.job_id"] == failing.id
    assert js.LEAK_TAG not in event["tags"]
    crumbs = [c.get("message") for c in event["breadcrumbs"]["values"]]
    assert "about to fail: second" in crumbs
    assert "breadcrumb of first" not in crumbs
    # nor does anything a job set stay in the worker's own scope
    sentry_sdk.capture_message("after the jobs")
    assert js.LEAK_TAG not in events[-1].get("tags", {})


# --------------------------------------------------------------------------- in a pool


@pytest.fixture
def pool_events(tmp_path, monkeypatch):
    """The directory a pool's FileTransport writes to (set in the pool's environment)."""
    directory = tmp_path / "sentry-events"
    directory.mkdir()
    monkeypatch.setenv(js.EVENTS_DIR_ENV, str(directory))
    return directory


def start_sentry_pool(pools, name: str, *extra: str):
    return pools.start_pool(name, 1, 2, "--init", "tests.engine.jobs_sentry.sentry_for_pool",
                            *extra)


def leave(proc) -> None:
    """Ask the pool to leave and wait until it did: whatever it sends is written by then."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_a_job_failing_in_a_pool_child_is_reported_by_the_child(
        connection, pq, pools, pool_events):
    proc = start_sentry_pool(pools, "sp")
    job = pq.enqueue(js.fails, "in a child")
    wait_until(lambda: jp.status(job) == JobStatus.FAILED, timeout=20, message=pools.logs())
    (sent,) = js.read_events(pool_events)
    assert sent["pid"] != proc.pid  # a child's
    event = sent["event"]
    assert exception_of(event)["value"] == "in a child"
    assert event["tags"]["jobqueue.job_id"] == job.id
    assert event["tags"]["jobqueue.queue"] == jp.QUEUE
    assert event["tags"]["jobqueue.worker"] == job.worker_name
    assert job.worker_name.startswith("sp")
    leave(proc)
    assert len(js.read_events(pool_events)) == 1


def test_a_job_killed_for_its_hard_limit_is_reported_once_by_the_supervisor(
        connection, pq, pools, pool_events):
    proc = start_sentry_pool(pools, "sk", "--grace", "0.5")
    stuck = pq.enqueue(jp.stubborn, 60, job_timeout=1)
    wait_until(lambda: jp.status(stuck) == JobStatus.FAILED, timeout=30,
               message=f"the hard limit never struck\n{pools.logs()}")
    leave(proc)
    sent = js.read_events(pool_events)
    reported = [s for s in sent if job_events([s["event"]])]
    assert len(reported) == 1, sent
    assert reported[0]["pid"] == proc.pid  # the supervisor's
    event = reported[0]["event"]
    assert exception_of(event)["type"] == "JobTimeoutException"
    assert "killed after exceeding its timeout of 1 s" in exception_of(event)["value"]
    assert event["fingerprint"] == ["jobqueue", "JobTimeoutException",
                                    "tests.engine.jobs_pool.stubborn"]
    assert event["tags"]["jobqueue.job_id"] == stuck.id
    assert event["tags"]["jobqueue.function"] == "tests.engine.jobs_pool.stubborn"
    assert event["contexts"][CONTEXT]["status"] == "failed"
    # neither the supervisor's line saying it kills the child nor the one recording the
    # kill is sent again as an event (they stay breadcrumbs): one event per kill
    logged = [s["event"]["logentry"]["message"] for s in sent if "logentry" in s["event"]]
    assert logged == [], logged


def test_an_operators_stop_is_not_reported(connection, pq, pools, pool_events):
    proc = start_sentry_pool(pools, "ss")
    job = pq.enqueue(jp.held, "stopme", job_timeout=120)
    wait_until(lambda: jp.started_pids(connection, "stopme"), timeout=20, message=pools.logs())
    assert steps.stop(connection, [job.id], 60) == ["ok"]
    wait_until(lambda: jp.status(job) == JobStatus.STOPPED, timeout=20, message=pools.logs())
    leave(proc)
    assert job_events([s["event"] for s in js.read_events(pool_events)]) == []
