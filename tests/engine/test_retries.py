"""Retry policies (engine/retries.py): the delay maths (fixed list, exponential backoff, full
jitter; statistical, seeded), validation, retrying only the listed exception types, a job
asking for its own retry (RetryLater, RQ's returned Retry), the delay a real worker gives
fail.lua (read from the scheduled registry's score, never slept for), a queue's default
Retry, the results kept, and a pool's hard-limit kill."""

from __future__ import annotations

import json
import logging
import random
import statistics

import pytest

from django_jobqueue import Job, JobStatus, Queue, Result, Retry, RetryLater, Worker
from django_jobqueue.engine import keys, retries
from django_jobqueue.engine.pool import children
from django_jobqueue.engine.results import RESULTS_KEPT, RESULTS_KEPT_MAX, results_kept
from tests.engine import jobs_retries as jobs
from tests.engine import jobs_worker

DRAWS = 20_000


def burst(queue: Queue, max_jobs: int | None = None) -> Worker:
    worker = Worker([queue], connection=queue.connection, wait_timeout=0.2)
    worker.work(burst=True, max_jobs=max_jobs)
    return worker


def scheduled_delay(connection, job: Job) -> float:
    """Seconds between the failure fail.lua recorded (ended_at) and the retry it scheduled."""
    due = connection.zscore(keys.registry("scheduled", job.origin), job.id)
    assert due is not None, "the job is not in the scheduled registry"
    return due - float(connection.hget(job.key, "ended_at"))


# --- the delay maths -------------------------------------------------------------------------


def test_a_fixed_list_of_intervals_works_as_before():
    policy = Retry(max=5, interval=[10, 30, 60])
    assert (policy.backoff, policy.max_interval, policy.jitter) == (None, None, False)
    assert [policy.delay_for(n) for n in range(5)] == [10, 30, 60, 60, 60]
    assert [Retry(max=3, interval=7).delay_for(n) for n in range(3)] == [7, 7, 7]
    assert Retry(max=2).delay_for(0) == 0


def test_exponential_backoff_is_capped_at_max_interval():
    policy = Retry(max=12, interval=1.5, backoff=2, max_interval=100, jitter=False)
    assert [policy.delay_for(n) for n in range(9)] == [1.5, 3, 6, 12, 24, 48, 96, 100, 100]
    assert Retry(max=3, interval=10, backoff=1, jitter=False).delay_for(2) == 10


def test_backoff_defaults_to_full_jitter_and_an_hour_cap():
    policy = Retry(max=3, interval=10, backoff=2)
    assert (policy.jitter, policy.max_interval) == (True, retries.DEFAULT_MAX_INTERVAL)
    assert Retry(max=3, interval=10, backoff=2, jitter=False).jitter is False
    assert Retry(max=3, interval=10, jitter=True).jitter is True  # jitter on a fixed delay


def test_a_huge_exponent_gives_the_cap_not_an_overflow():
    policy = Retry(max=100_000, interval=1, backoff=10, jitter=False)
    assert policy.delay_for(99_999) == retries.DEFAULT_MAX_INTERVAL


@pytest.mark.parametrize("n", [0, 3, 12])
def test_full_jitter_stays_within_zero_and_the_cap_with_a_mean_near_half(n):
    policy = Retry(max=20, interval=2, backoff=2, max_interval=1000)
    cap = policy.base_delay(n)
    assert cap == min(1000, 2 * 2 ** n)
    rng = random.Random(20260101 + n)
    draws = [policy.delay_for(n, rng) for _ in range(DRAWS)]
    assert all(0 <= d <= cap for d in draws)
    # uniform(0, cap): mean cap/2, standard error cap * 0.29 / sqrt(DRAWS) ~ 0.002 * cap
    assert statistics.fmean(draws) == pytest.approx(cap / 2, rel=0.02)
    assert min(draws) < 0.01 * cap and max(draws) > 0.99 * cap  # spread over the range
    assert statistics.pstdev(draws) == pytest.approx(cap / 12 ** 0.5, rel=0.03)


def test_jitter_never_draws_for_a_zero_delay():
    rng = random.Random(1)
    assert Retry(max=2, interval=0, backoff=2).delay_for(1, rng) == 0


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "error", "names"), [
    ({"max": 0}, ValueError, "max"), ({"max": True}, ValueError, "max"),
    ({"max": 2.5}, ValueError, "max"),
    ({"max": 1, "interval": -1}, ValueError, "interval"),
    ({"max": 1, "interval": [1, -2]}, ValueError, "interval"),
    ({"max": 1, "interval": []}, ValueError, "interval"),
    ({"max": 1, "interval": "10"}, TypeError, "interval"),
    ({"max": 1, "interval": [1, "x"]}, TypeError, "interval"),
    ({"max": 1, "interval": float("nan")}, ValueError, "interval"),
    ({"max": 1, "backoff": 0.5}, ValueError, "backoff"),
    ({"max": 1, "backoff": "2"}, TypeError, "backoff"),
    ({"max": 1, "interval": [1, 2], "backoff": 2}, ValueError, "interval"),
    ({"max": 1, "max_interval": 0}, ValueError, "max_interval"),
    ({"max": 1, "jitter": "yes"}, TypeError, "jitter"),
    ({"max": 1, "on": int}, TypeError, "on"),
    ({"max": 1, "on": ()}, ValueError, "on"),
    ({"max": 1, "on": "no_such_module.Error"}, ValueError, "on"),
    ({"max": 1, "on": "os.path"}, TypeError, "on"),
    ({"max": 1, "on": 5}, TypeError, "on"),
])
def test_a_bad_argument_is_refused_naming_it(options, error, names):
    with pytest.raises(error, match=f"Retry {names}"):
        Retry(**options)


def test_on_is_stored_as_dotted_names():
    class Local(Exception):
        pass

    policy = Retry(max=1, on=(ConnectionError, "TimeoutError", "json.JSONDecodeError"))
    assert policy.on == ("builtins.ConnectionError", "builtins.TimeoutError",
                         "json.JSONDecodeError")
    assert Retry(max=1, on=KeyError).on == ("builtins.KeyError",)
    with pytest.raises(TypeError, match="module level"):
        Retry(max=1, on=Local)


@pytest.mark.parametrize(("delay", "error"), [(-1, ValueError), ("soon", TypeError),
                                              (float("inf"), ValueError)])
def test_retry_later_refuses_a_bad_delay(delay, error):
    with pytest.raises(error, match="delay"):
        RetryLater(delay)


def test_a_name_the_worker_cannot_import_matches_nothing_and_is_logged(caplog):
    policy = Retry.stored(3, [0], None, None, False, ["gone_module.Error",
                                                       "builtins.ValueError"])
    with caplog.at_level(logging.WARNING, logger="django_jobqueue.worker"):
        assert policy.matches(ValueError("x"), "job-1")
        assert not policy.matches(KeyError("x"), "job-1")
    assert "gone_module.Error" in caplog.text and "cannot use" in caplog.text


def test_the_decision():
    policy = Retry(max=2, interval=[5, 9], on=(ConnectionError,))
    assert retries.decide(policy, 2, ConnectionError()) == retries.Decision(True, 5)
    assert retries.decide(policy, 1, ConnectionError()) == retries.Decision(True, 9)
    assert not retries.decide(policy, 0, ConnectionError()).retry
    refused = retries.decide(policy, 2, ValueError())
    assert not refused.retry and "ValueError" in refused.why_not
    # a request is granted whatever `on` says, and uses the policy's delay or its own
    assert retries.decide(policy, 2, None, RetryLater()) == retries.Decision(True, 5)
    assert retries.decide(policy, 1, None, RetryLater(2.5)) == retries.Decision(True, 2.5)
    assert retries.decide(policy, 2, None, Retry(max=9, interval=4)) == \
        retries.Decision(True, 4)
    assert "no retries left" in retries.decide(policy, 0, None, RetryLater()).why_not
    assert "without retry=" in retries.decide(None, None, None, RetryLater()).why_not


# --- a real worker ---------------------------------------------------------------------------


def test_only_a_listed_exception_type_is_retried(queue, connection, caplog):
    policy = Retry(max=2, on=(ConnectionError, "TimeoutError"))
    listed = queue.enqueue(jobs.raise_named, "builtins.ConnectionError", retry=policy)
    subclass = queue.enqueue(jobs.raise_named, "builtins.ConnectionRefusedError",
                             retry=policy)
    other = queue.enqueue(jobs.raise_named, "builtins.ValueError", retry=policy)
    with caplog.at_level(logging.WARNING, logger="django_jobqueue.worker"):
        burst(queue)
    for job in (listed, subclass):
        job.refresh()
        assert (job.get_status(), job.attempts, job.retries_left) == (JobStatus.FAILED, 3, 0)
    other.refresh()
    assert (other.get_status(), other.attempts, other.retries_left) == (JobStatus.FAILED, 1, 2)
    assert [r.type for r in other.results()] == [Result.Type.FAILED]
    assert "not retried: ValueError is not one of the exceptions its Retry retries" \
        in caplog.text


def test_a_backoff_retry_is_scheduled_within_the_policys_bounds(queue, connection):
    policy = Retry(max=3, interval=100, backoff=2, max_interval=150)
    job = queue.enqueue(jobs.raise_named, "builtins.TimeoutError", retry=policy)
    burst(queue, max_jobs=1)  # (one run: a draw near 0 would be due at once)
    assert job.get_status() == JobStatus.SCHEDULED
    assert 0 <= scheduled_delay(connection, job) <= 100
    # due now: a burst worker's tick queues it, and it runs once more; the bound is the cap
    connection.zadd(keys.registry("scheduled", queue.name), {job.id: 0})
    burst(queue, max_jobs=1)
    assert connection.hget(job.key, "recorded_attempt") == b"2"
    assert job.get_status() == JobStatus.SCHEDULED
    assert 0 <= scheduled_delay(connection, job) <= 150
    assert Job.fetch(job.id, connection=connection).retries_left == 1


def test_without_jitter_the_delay_is_exact(queue, connection):
    job = queue.enqueue(jobs.raise_named, "builtins.TimeoutError",
                        retry=Retry(max=2, interval=40, backoff=3, jitter=False))
    burst(queue)
    assert scheduled_delay(connection, job) == pytest.approx(40, abs=1e-3)


def test_a_job_of_the_previous_version_retries_as_before(queue, connection):
    """A fixed list stores only what the previous version stored (retries_left, retry_max,
    retry_intervals): such a hash retries by its list."""
    job = queue.enqueue(jobs.raise_named, "builtins.ValueError",
                        retry=Retry(max=2, interval=[25, 50]))
    stored = {k.decode() for k in connection.hkeys(job.key)}
    assert {"retries_left", "retry_max", "retry_intervals"} <= stored
    assert not stored & {"retry_backoff", "retry_max_interval", "retry_jitter", "retry_on"}
    burst(queue)
    assert scheduled_delay(connection, job) == pytest.approx(25, abs=1e-3)


def test_a_job_raising_retry_later_is_scheduled_with_its_delay(queue, connection):
    job = queue.enqueue(jobs.raise_retry_later, 30, retry=Retry(max=2, interval=5),
                        on_failure=jobs_worker.on_failure_cb)
    worker = burst(queue)
    assert job.get_status() == JobStatus.SCHEDULED
    assert scheduled_delay(connection, job) == pytest.approx(30, abs=1e-3)
    job.refresh()
    assert job.retries_left == 1
    assert [r.type for r in job.results()] == [Result.Type.RETRIED]
    assert "RetryLater(delay=30)" in job.results()[0].exc_string
    assert connection.llen(jobs_worker.CALLBACKS_KEY) == 0  # a request is not a failure
    assert worker.failed_job_count == 0


def test_a_job_returning_retry_later_gets_the_policys_delay(queue, connection):
    job = queue.enqueue(jobs.return_retry_later_once, retry=Retry(max=1))  # interval 0
    burst(queue)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.result == 2 and jobs.calls(connection) == 2
    assert [r.type for r in job.results()] == [Result.Type.SUCCESSFUL, Result.Type.RETRIED]
    assert [r.attempt for r in job.results()] == [2, 1]


def test_a_returned_rq_retry_uses_its_interval_and_the_jobs_retries(queue, connection):
    job = queue.enqueue(jobs.return_rq_retry, 5, 7, retry=Retry(max=1, interval=99))
    burst(queue)
    assert scheduled_delay(connection, job) == pytest.approx(7, abs=1e-3)
    assert Job.fetch(job.id, connection=connection).retries_left == 0


@pytest.mark.parametrize(("retry", "message"), [
    (None, "enqueued without retry=Retry"), (Retry(max=1), "no retries left (Retry max=1)"),
])
def test_a_request_with_no_retry_left_fails_saying_why(queue, connection, retry, message):
    job = queue.enqueue(jobs.raise_retry_later, 5, retry=retry,
                        on_failure=jobs_worker.on_failure_cb)
    if retry is not None:
        connection.hset(job.key, "retries_left", 0)  # as earlier retries would leave it
    burst(queue)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert message in job.exc_info
    assert message in job.results()[0].exc_string
    assert job.results()[0].type == Result.Type.FAILED
    callbacks = [json.loads(c) for c in connection.lrange(jobs_worker.CALLBACKS_KEY, 0, -1)]
    assert [c["exc_type"] for c in callbacks] == ["RetryLater"]  # a failure: its callback


def test_every_run_a_retry_allows_is_kept(queue, connection):
    job = queue.enqueue(jobs.raise_named, "builtins.ValueError", retry=Retry(max=14))
    burst(queue)
    job.refresh()
    assert job.attempts == 15
    kept = job.results()
    assert len(kept) == 15  # more than RESULTS_KEPT (10)
    assert [r.attempt for r in kept] == list(range(15, 0, -1))
    assert connection.llen(keys.results(job.id)) == 15
    assert results_kept(500) == RESULTS_KEPT_MAX  # bounded (see README)
    assert results_kept(0) == results_kept(3) == RESULTS_KEPT


# --- a queue's default -----------------------------------------------------------------------


def test_a_queue_default_retry_applies_to_jobs_enqueued_without_one(connection):
    default = Retry(max=4, interval=3, backoff=2, on=(ConnectionError,))
    queue = Queue("retrying", connection=connection, default_retry=default)
    plain = queue.enqueue(jobs.raise_named, "builtins.ConnectionError")
    own = queue.enqueue(jobs.raise_named, "builtins.ConnectionError", retry=Retry(max=1))
    made = Job.create(jobs.raise_named, args=["builtins.ValueError"], connection=connection)
    queue.enqueue_job(made)
    stored = Job.fetch(plain.id, connection=connection)
    assert stored.retry_policy == default
    assert Job.fetch(own.id, connection=connection).retry_max == 1
    assert Job.fetch(made.id, connection=connection).retry_policy == default
    assert Job.fetch(queue.enqueue("builtins.print").id,
                     connection=connection).retries_left == 4
    with pytest.raises(TypeError, match="default_retry"):
        Queue("retrying", connection=connection, default_retry=3)


# --- a pool's hard-limit kill ----------------------------------------------------------------


@pytest.mark.parametrize(("policy", "expected"), [
    (Retry(max=2, interval=40), retries.Decision(True, 40)),
    (Retry(max=2, interval=40, on=(ValueError,)), None),
    (None, retries.Decision(False)),
])
def test_a_job_killed_for_its_hard_limit_gets_its_retry_delay(queue, connection, policy,
                                                             expected):
    job = queue.enqueue("builtins.print", retry=policy)
    killed = children.Killed("slot-1", job.id, queue.name, 1, 0.0,
                             "Job exceeded its hard limit", JobStatus.FAILED)
    decision, retry_max = children._killed_retry(connection, killed)
    if expected is None:
        assert not decision.retry and "JobTimeoutException" in decision.why_not
    else:
        assert decision == expected
    assert retry_max == (policy.max if policy else 0)
