"""A worker's steps sent twice, as a worker does after a reconnect when it cannot know
whether its request ran: the second call must do what the first did, never more. (The fault
tests drive the same with real connection kills; these pin each case down.)"""

from __future__ import annotations

import pytest

from django_jobqueue import Job, Queue, Retry
from django_jobqueue.engine import keys, scripts, steps
from django_jobqueue.engine.channel import Channel
from tests.engine.jobs_queue import assert_in_one_place


def _setup(connection, count=3, **options):
    queue = Queue("lost", connection=connection)
    jobs = [queue.enqueue("builtins.print", i, **options) for i in range(count)]
    # the worker's record, as its first heartbeat writes it
    connection.hset(keys.worker("w1"), mapping={"name": "w1", "current_job": ""})
    return queue, jobs


def _rec(taken: steps.Taken, ok: bool = True, retry: bool = False) -> steps.Recording:
    attempt = int(taken.fields[b"attempts"])
    return steps.Recording(job_id=taken.job_id, queue=taken.queue, worker="w1",
                           attempt=attempt, entry=b"", succeeded=ok, result_ttl=60,
                           exc_info="" if ok else "boom", retry=retry)


TAKE = steps.Take("w1", 30, ["lost"])


def test_a_take_sent_twice_hands_over_the_same_job(connection):
    queue, jobs = _setup(connection)
    channel = Channel(connection)
    first = steps.take(channel, TAKE)  # its reply "lost"
    again = steps.take(channel, TAKE)
    assert again.job_id == first.job_id == jobs[0].id
    assert again.fields[b"attempts"] == b"1"  # not taken a second time
    assert queue.count == 2
    assert queue.started_job_registry.get_job_ids() == [jobs[0].id]


def test_finish_and_take_sent_twice_record_once_and_hand_over_the_same_next_job(connection):
    queue, jobs = _setup(connection)
    channel = Channel(connection)
    taken = steps.take(channel, TAKE)
    rec = _rec(taken)
    verdict, following = steps.finish(channel, rec, then=TAKE)  # reply "lost"
    verdict_again, following_again = steps.finish(channel, rec, then=TAKE)
    assert (verdict, verdict_again) == ("finished", "recorded")
    assert following.job_id == following_again.job_id == jobs[1].id
    assert queue.count == 1  # jobs[2] was not taken
    assert queue.finished_job_registry.get_job_ids() == [jobs[0].id]
    assert connection.llen(keys.results(jobs[0].id)) == 0  # entry b"": nothing kept
    for job, place in zip(jobs, ("finished", "started", "queue"), strict=True):
        assert_in_one_place(connection, job.id, "lost", place)


def test_a_failure_with_retry_sent_twice_uses_one_retry(connection):
    queue, jobs = _setup(connection, count=2, retry=Retry(max=3))
    channel = Channel(connection)
    taken = steps.take(channel, TAKE)
    rec = _rec(taken, ok=False, retry=True)
    first, following = steps.fail(channel, rec, then=TAKE)
    second, following_again = steps.fail(channel, rec, then=TAKE)
    assert (first, second) == ("queued", "recorded")
    assert following.job_id == following_again.job_id == jobs[1].id
    assert Job.fetch(jobs[0].id, connection=connection).retries_left == 2
    assert queue.get_job_ids() == [jobs[0].id]  # queued once, for its one retry


def test_an_old_attempt_never_records_over_a_new_one(connection):
    """Taken, lease lapsed, taken again by the same worker name: the first attempt's late
    outcome is not this attempt's."""
    queue, (job, *_) = _setup(connection, count=1)
    channel = Channel(connection)
    first = steps.take(channel, TAKE)
    connection.zadd(keys.registry("started", "lost"), {job.id: 0})  # the lease lapsed
    assert steps.recover_expired(connection, "lost", 10, 3).requeued == 1
    second = steps.take(channel, TAKE)
    assert second.fields[b"attempts"] == b"2"
    verdict, _ = steps.finish(channel, _rec(first))
    assert verdict == "lost"
    assert Job.fetch(job.id, connection=connection).get_status() == "started"
    verdict, _ = steps.finish(channel, _rec(second))
    assert verdict == "finished"


def test_a_recovered_job_is_still_recorded_by_its_slow_worker(connection):
    """The lease lapsed and recovery put the job back on its queue, but no one took it yet:
    the worker that ran it records it, and it leaves the queue (it does not run twice)."""
    queue, (job, *_) = _setup(connection, count=1)
    taken = steps.take(Channel(connection), TAKE)
    connection.zadd(keys.registry("started", "lost"), {job.id: 0})
    steps.recover_expired(connection, "lost", 10, 3)
    assert queue.get_job_ids() == [job.id]
    verdict, _ = steps.finish(connection, _rec(taken))
    assert verdict == "finished"
    assert queue.count == 0
    assert_in_one_place(connection, job.id, "lost", "finished")


def test_a_job_started_under_another_worker_is_never_handed_over(connection):
    queue, jobs = _setup(connection)
    steps.take(Channel(connection), steps.Take("w2", 30, ["lost"]))  # w2 has no record
    connection.hset(keys.worker("w1"), "current_job", jobs[0].id)  # w1's record is wrong
    taken = steps.take(Channel(connection), TAKE)
    assert taken.job_id == jobs[1].id


def test_a_worker_starting_again_under_its_name_takes_no_job_of_its_previous_life(connection):
    """Its first heartbeat writes the record anew (current_job ''): the job its previous
    process held comes back only through its lease, counted as a loss."""
    queue, jobs = _setup(connection)
    steps.take(Channel(connection), TAKE)  # the previous process took jobs[0], then died
    scripts.load(connection, ["heartbeat"])
    pipe = connection.pipeline(transaction=False)
    steps.heartbeat_on(pipe, "w1", 60, 30, "", "", True, ["name", "w1"])
    pipe.execute()
    taken = steps.take(Channel(connection), TAKE)
    assert taken.job_id == jobs[1].id
    assert queue.started_job_registry.get_job_ids() == [jobs[0].id, jobs[1].id]


def test_later_heartbeats_leave_the_current_job_to_the_steps(connection):
    """A heartbeat's snapshot may be older than the take that just ran: it must not erase
    what the take wrote (the record would then hide a job whose reply was lost)."""
    queue, jobs = _setup(connection)
    scripts.load(connection, ["heartbeat"])
    taken = steps.take(Channel(connection), TAKE)
    pipe = connection.pipeline(transaction=False)
    steps.heartbeat_on(pipe, "w1", 60, 30, "", "", False, ["name", "w1"])  # idle snapshot
    pipe.execute()
    assert connection.hget(keys.worker("w1"), "current_job").decode() == taken.job_id
    assert steps.take(Channel(connection), TAKE).job_id == taken.job_id


def test_a_retry_taken_back_by_the_same_call_is_handed_over_after_a_lost_reply(connection):
    """fail+take requeues the job for its retry and takes it again at once (attempt 2); sent
    again after a lost reply, the call must hand that job over, not leave it started under
    a worker that does not know it holds it."""
    queue, (job,) = _setup(connection, count=1, retry=Retry(max=1))
    channel = Channel(connection)
    rec = _rec(steps.take(channel, TAKE), ok=False, retry=True)
    first, again = steps.fail(channel, rec, then=TAKE)
    resent, again_resent = steps.fail(channel, rec, then=TAKE)
    assert (first, resent) == ("queued", "lost")  # attempt 1's outcome is in
    assert again.job_id == again_resent.job_id == job.id
    assert again_resent.fields[b"attempts"] == b"2"


def test_a_handed_over_job_gets_a_fresh_lease(connection):
    queue, (job,) = _setup(connection, count=1)
    channel = Channel(connection)
    steps.take(channel, TAKE)
    connection.zadd(keys.registry("started", "lost"), {job.id: 1})  # the lease nearly ran out
    steps.take(channel, TAKE)  # sent again after a long outage
    deadline = connection.zscore(keys.registry("started", "lost"), job.id)
    assert deadline > float(connection.time()[0]) + 20  # a lease of 30 s from now


def _lose_one_reply(worker, script_name: str, then=None) -> dict:
    """The worker's next call of ``script_name`` runs in Redis but its reply is lost."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    real = worker._channel.call
    state = {"cut": 0}

    def call(script, args):
        reply = real(script, args)
        if script.name == script_name and not state["cut"]:
            state["cut"] += 1
            if then is not None:
                then()
            raise RedisConnectionError("reply lost")
        return reply

    worker._channel.call = call
    return state


def _worker(connection, queue, **options):
    from django_jobqueue import Worker

    return Worker([queue], connection=connection, name="w1", wait_timeout=0.2,
                  maintenance_interval=0.1, **options)


def test_a_worker_whose_failure_reply_is_lost_runs_the_retry_once(connection):
    queue = Queue("lost", connection=connection)
    job = queue.enqueue("builtins.int", "not a number", retry=Retry(max=1))
    worker = _worker(connection, queue, max_lost_attempts=1)
    cut = _lose_one_reply(worker, "fail")
    worker.work(burst=True)
    job.refresh()
    assert cut["cut"] == 1
    assert job.get_status() == "failed" and "ValueError" in job.exc_info  # not WorkerLost
    assert job.attempts == 2 and job.lost_count == 0
    assert len(job.results()) == 2


def test_a_worker_stopped_while_a_take_reply_is_lost_gives_the_job_back(connection):
    queue = Queue("lost", connection=connection)
    job = queue.enqueue("builtins.print", "hello")
    worker = _worker(connection, queue)
    _lose_one_reply(worker, "dequeue", then=worker.request_stop)  # SIGTERM during the outage
    worker.work()
    assert job.get_status() == "queued"  # back at once, not after its lease
    assert queue.get_job_ids() == [job.id] and queue.started_job_registry.count == 0
    assert Job.fetch(job.id, connection=connection).lost_count == 0


def test_a_worker_refuses_the_name_of_a_live_worker(connection):
    """Two live workers under one name would hand each other their jobs."""
    import socket

    from django_jobqueue import Worker

    queue = Queue("lost", connection=connection)
    connection.hset(keys.worker("w1"), mapping={
        "name": "w1", "hostname": "another-host", "pid": 4242,
        "last_heartbeat": f"{float(connection.time()[0]):.6f}"})
    with pytest.raises(ValueError, match="A worker named 'w1' is running"):
        Worker([queue], connection=connection, name="w1").work(burst=True)
    # a dead predecessor on this host is no obstacle
    connection.hset(keys.worker("w1"), mapping={"hostname": socket.gethostname(),
                                                "pid": _dead_pid()})
    assert Worker([queue], connection=connection, name="w1").work(burst=True) is False


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_finish_sent_again_for_a_job_deleted_on_success_is_no_warning(connection, caplog):
    """result_ttl=0 deletes the finished job: a resend finds nothing, which is not "lost"."""
    queue = Queue("lost", connection=connection)
    queue.enqueue("builtins.print", "x", result_ttl=0)
    worker = _worker(connection, queue)
    _lose_one_reply(worker, "finish")
    worker.work(burst=True)
    assert not [r for r in caplog.records if "was not recorded" in r.getMessage()]
    assert worker.successful_job_count == 1


@pytest.mark.parametrize(("field", "value"), [("attempts", "x"), ("lost_count", "x"),
                                              ("failure_ttl", "x"), ("priority", "nan"),
                                              ("retries_left", "x"), ("retry_max", "x"),
                                              ("retry_intervals", "a,b")])
def test_a_corrupt_number_never_leaves_a_job_nowhere(connection, field, value):
    """The scripts read numbers leniently: a step never fails half-way for a corrupt one."""
    queue = Queue("lost", connection=connection)
    job = queue.enqueue("builtins.int", "not a number", retry=Retry(max=1, interval=0))
    connection.hset(job.key, field, value)
    worker = _worker(connection, queue, max_lost_attempts=2)
    worker.work(burst=True)
    status = connection.hget(job.key, "status").decode()  # (Job.fetch refuses a corrupt job)
    places = [kind for kind in ("started", "failed", "finished")
              if job.id in getattr(queue, f"{kind}_job_registry").get_job_ids()]
    assert status == "failed" and places == ["failed"]
    connection.zadd(keys.registry("started", "lost"), {job.id: 0})  # recovery, corrupt too
    connection.hset(job.key, mapping={"status": "started", field: value})
    assert steps.recover_expired(connection, "lost", 10, 3).job_ids == [job.id]


def test_a_limited_take_and_its_finish_sent_twice_count_one_start_and_free_one_slot(
        connection):
    queue = Queue("lost", connection=connection)
    limited = [queue.enqueue("builtins.print", i, rate_limit="10/h", concurrency_limit=1,
                             limit_key="lost-limit") for i in range(2)]
    connection.hset(keys.worker("w1"), mapping={"name": "w1", "current_job": ""})
    channel = Channel(connection)
    first = steps.take(channel, TAKE)  # its reply "lost"
    again = steps.take(channel, TAKE)
    assert again.job_id == first.job_id == limited[0].id
    assert connection.zcard(keys.limit_starts("lost-limit")) == 1
    assert connection.smembers(keys.limit_running("lost-limit")) == {limited[0].id.encode()}
    rec = _rec(first)
    assert steps.finish(channel, rec)[0] == "finished"  # reply "lost"
    assert steps.finish(channel, rec)[0] == "recorded"
    assert connection.scard(keys.limit_running("lost-limit")) == 0
    assert steps.take(channel, TAKE).job_id == limited[1].id
    assert connection.zcard(keys.limit_starts("lost-limit")) == 2
