"""Django signals: job_enqueued after the enqueue reached Redis (after the commit under
on_commit), then job_started / job_finished / job_failed from a DjangoWorker, in order, with
their arguments; a receiver that raises breaks neither; database connections are closed
around every job."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction

from django_jobqueue import JobStatus, get_queue, get_worker, signals
from django_jobqueue.integration.queues import DjangoQueue
from django_jobqueue.integration.worker import DjangoWorker


def boom():
    raise ValueError("boom in a job")


def database_state():
    """What the job saw of the default database connection, then leaves it in use."""
    from django.db import connection as db

    queries_before = len(db.queries_log)
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
    return queries_before


@pytest.fixture
def received():
    """Every signal of signals.py, recorded as (name, kwargs) in the order sent."""
    events: list[tuple[str, dict]] = []
    receivers = {}
    for name in ("job_enqueued", "job_started", "job_finished", "job_failed"):
        def receiver(sender, signal, _name=name, **kwargs):
            events.append((_name, {"sender": sender, **kwargs}))
        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def test_signals_in_order_with_their_arguments(received):
    queue = get_queue()
    ok = queue.enqueue("operator.add", 1, 2)
    bad = queue.enqueue(boom)
    worker = get_worker()
    assert isinstance(worker, DjangoWorker)
    worker.work(burst=True)

    names = [(name, kwargs["job"].id) for name, kwargs in received]
    assert names == [
        ("job_enqueued", ok.id), ("job_enqueued", bad.id),
        ("job_started", ok.id), ("job_finished", ok.id),
        ("job_started", bad.id), ("job_finished", bad.id), ("job_failed", bad.id),
    ]
    enqueued = received[0][1]
    assert enqueued["sender"] is DjangoQueue and enqueued["queue"].name == "default"
    assert enqueued["job"] is ok  # the caller's Job object
    for _, kwargs in received[2:]:
        assert kwargs["sender"] is DjangoWorker and kwargs["worker"] is worker
    finished_ok, finished_bad, failed = received[3][1], received[5][1], received[6][1]
    assert finished_ok["outcome"] == "finished" and finished_ok["exc_info"] is None
    assert finished_ok["result"] == 3
    assert finished_bad["outcome"] == "failed" and finished_bad["result"] is None
    assert "ValueError: boom in a job" in finished_bad["exc_info"]
    assert failed["exc_info"] == finished_bad["exc_info"]
    assert isinstance(failed["exception"], ValueError)
    assert received[2][1]["job"].func_name == "operator.add"


def test_job_enqueued_waits_for_the_commit_and_not_sent_on_rollback(received):
    queue = get_queue()
    with transaction.atomic():
        job = queue.enqueue("os.getpid")
        assert received == []  # not in Redis yet
    assert [(n, k["job"].id) for n, k in received] == [("job_enqueued", job.id)]
    assert job.get_status() == JobStatus.QUEUED  # sent after the enqueue reached Redis

    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue("os.getpid")
        raise RuntimeError("roll back")
    assert len(received) == 1


def test_a_duplicate_job_id_is_not_signalled_twice(received):
    queue = get_queue()
    queue.enqueue("os.getpid", job_id="only-once")
    queue.enqueue("os.getpid", job_id="only-once")
    assert [n for n, _ in received] == ["job_enqueued"]


def test_a_raising_receiver_breaks_neither_enqueue_nor_worker(caplog):
    def bad_receiver(sender, **kwargs):
        raise RuntimeError("receiver bug")

    for signal in (signals.job_enqueued, signals.job_started, signals.job_finished):
        signal.connect(bad_receiver)
    try:
        job = get_queue().enqueue("operator.add", 2, 2)
        assert job.get_status() == JobStatus.QUEUED
        get_worker().work(burst=True)
    finally:
        for signal in (signals.job_enqueued, signals.job_started, signals.job_finished):
            signal.disconnect(bad_receiver)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.result == 4
    errors = [r for r in caplog.records
              if r.name == "django.dispatch" and "receiver bug" in r.getMessage()]
    assert len(errors) == 3


def test_close_old_connections_runs_before_and_after_every_job(monkeypatch, received):
    from django_jobqueue.integration import worker as django_worker

    calls: list[str] = []
    original = django_worker.close_old_connections

    def counting(**kwargs):
        calls.append("close_old_connections")
        return original(**kwargs)

    monkeypatch.setattr(django_worker, "close_old_connections", counting)
    signals.job_started.connect(lambda sender, **kw: calls.append("started"), weak=False,
                                dispatch_uid="t-started")
    signals.job_finished.connect(lambda sender, **kw: calls.append("finished"), weak=False,
                                 dispatch_uid="t-finished")
    # log queries, as DEBUG does (on the real connection: undoing it on the proxy would
    # delete the attribute)
    monkeypatch.setattr(connections["default"], "force_debug_cursor", True)
    try:
        queue = get_queue()
        first, second = queue.enqueue(database_state), queue.enqueue(database_state)
        get_worker().work(burst=True)
    finally:
        signals.job_started.disconnect(dispatch_uid="t-started")
        signals.job_finished.disconnect(dispatch_uid="t-finished")
    assert calls == ["close_old_connections", "started", "finished", "close_old_connections"] * 2
    first.refresh()
    second.refresh()
    # reset_queries ran before each job too: the second job does not see the first's query
    assert (first.result, second.result) == (0, 0)
    assert len(connection.queries_log) == 1  # ...which was logged (the second job's query)
