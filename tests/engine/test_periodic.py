"""Periodic jobs against a real Redis (engine/periodic/runner.py and its scripts): each tick
claimed and enqueued once, missed ticks, overlap, enable/disable, changed and removed
definitions. The time is driven by handing the runner the due-list reply it would read
(server time and ticks), so no test waits for a clock."""

from __future__ import annotations

import threading

import pytest

from django_jobqueue import Job, PeriodicJob, Queue
from django_jobqueue.engine import keys, scripts, steps
from django_jobqueue.engine.periodic import PeriodicRunner
from django_jobqueue.engine.periodic.runner import LATE_AFTER, STALE_AFTER
from django_jobqueue.engine.periodic.status import read_statuses
from django_jobqueue.engine.states import JobStatus

from .jobs_periodic import QUEUE

FUNC = "tests.engine.jobs_periodic.noop"
T0 = 1_800_000_000  # a multiple of 60


def due_reply(now: float, *pairs: tuple[str, int | str]) -> list:
    """What periodic_due.lua answers: the server time, then name/tick pairs."""
    out: list = [f"{now:.6f}".encode()]
    for name, tick in pairs:
        out += [name.encode(), str(tick).encode()]
    return out


def schedule(connection, job: PeriodicJob, first_tick: int) -> PeriodicRunner:
    """A runner that stored ``job`` with its next tick at ``first_tick``."""
    runner = PeriodicRunner([job])
    steps.periodic_sync(connection, [steps.PeriodicEntry(
        job.name, job.digest(), "{}", job.enabled, first_tick)], True, STALE_AFTER)
    return ready(runner)


def ready(runner: PeriodicRunner) -> PeriodicRunner:
    """As if the runner had synced its definitions just now (and not again in this test)."""
    runner.synced = True
    runner._next_sync = float("inf")
    return runner


def next_tick(connection, name: str) -> int:
    return int(connection.zscore(keys.periodics(), name))


def queued(connection) -> list[Job]:
    return Queue(QUEUE, connection=connection).jobs


def test_a_due_tick_is_enqueued_with_its_tick_time(connection):
    job = PeriodicJob("every-minute", FUNC, every=60, queue=QUEUE, args=[1],
                      kwargs={"x": 2}, result_ttl=99)
    runner = schedule(connection, job, T0)
    assert runner.run_due(connection, due_reply(T0 - 1)) == []  # nothing due yet
    fired = runner.run_due(connection, due_reply(T0 + 0.5, ("every-minute", T0)))
    assert [(f.outcome, f.tick) for f in fired] == [("fired", T0)]
    [enqueued] = queued(connection)
    assert enqueued.id == fired[0].job_id == job.tick_job_id(T0)
    assert enqueued.periodic == "every-minute"
    assert int(enqueued.tick_at.timestamp()) == T0
    assert (enqueued.func_name, enqueued.args, enqueued.kwargs) == (FUNC, (1,), {"x": 2})
    assert enqueued.result_ttl == 99
    assert next_tick(connection, "every-minute") == T0 + 60


def test_two_workers_claiming_the_same_tick_enqueue_it_once(connection):
    job = PeriodicJob("race", FUNC, every=60, queue=QUEUE, overlap=True)
    runners = [schedule(connection, job, T0)] + [PeriodicRunner([job]) for _ in range(7)]
    for runner in runners:
        ready(runner)
    reply = due_reply(T0 + 0.2, ("race", T0))
    outcomes: list[str] = []
    barrier = threading.Barrier(len(runners))

    def claim(runner):
        barrier.wait()
        outcomes.extend(f.outcome for f in runner.run_due(connection, reply))

    threads = [threading.Thread(target=claim, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["fired"] + ["moved"] * 7
    assert len(queued(connection)) == 1


def test_ticks_due_within_the_late_window_are_each_enqueued(connection):
    job = PeriodicJob("each", FUNC, every=1, queue=QUEUE, overlap=True)
    runner = schedule(connection, job, T0)
    fired = runner.run_due(connection, due_reply(T0 + 2.5, ("each", T0)))
    assert [(f.outcome, f.tick) for f in fired] == [("fired", T0), ("fired", T0 + 1),
                                                     ("fired", T0 + 2)]
    assert next_tick(connection, "each") == T0 + 3


@pytest.mark.parametrize("missed", ["once", "skip"])
def test_missed_ticks_give_one_catch_up_run_or_none(connection, missed):
    job = PeriodicJob("nightly", FUNC, cron="0 3 * * *", queue=QUEUE, missed=missed)
    first = job.next_tick(T0)
    runner = schedule(connection, job, first)
    now = first + 3 * 86400 + 3600  # three days of ticks missed: no worker ran
    fired = runner.run_due(connection, due_reply(now, ("nightly", first)))
    if missed == "once":
        assert [f.outcome for f in fired] == ["fired"]
        [enqueued] = queued(connection)
        assert int(enqueued.tick_at.timestamp()) == first + 3 * 86400  # the latest missed
    else:
        assert [f.outcome for f in fired] == ["missed"]
        assert queued(connection) == []
    assert next_tick(connection, "nightly") == first + 4 * 86400
    assert LATE_AFTER < 3600


def test_a_tick_whose_last_run_is_still_queued_is_skipped(connection):
    job = PeriodicJob("slow", FUNC, every=60, queue=QUEUE)
    runner = schedule(connection, job, T0)
    assert [f.outcome for f in runner.run_due(connection, due_reply(T0, ("slow", T0)))] \
        == ["fired"]
    fired = runner.run_due(connection, due_reply(T0 + 60, ("slow", T0 + 60)))
    assert [(f.outcome, f.job_id) for f in fired] == [("overlap", job.tick_job_id(T0))]
    assert len(queued(connection)) == 1
    # once the last run ended, the next tick runs again
    Queue(QUEUE, connection=connection).empty()
    fired = runner.run_due(connection, due_reply(T0 + 120, ("slow", T0 + 120)))
    assert [f.outcome for f in fired] == ["fired"]
    status = read_statuses(connection)["slow"]
    assert status.skipped == 1 and status.last_skip_reason == "overlap"
    assert status.last_job_id == job.tick_job_id(T0 + 120)
    assert status.last_status == JobStatus.QUEUED.value


def test_overlap_true_enqueues_beside_a_running_one(connection):
    job = PeriodicJob("fast", FUNC, every=60, queue=QUEUE, overlap=True)
    runner = schedule(connection, job, T0)
    runner.run_due(connection, due_reply(T0, ("fast", T0)))
    fired = runner.run_due(connection, due_reply(T0 + 60, ("fast", T0 + 60)))
    assert [f.outcome for f in fired] == ["fired"]
    assert len(queued(connection)) == 2


def test_a_disabled_job_advances_without_running_until_enabled(connection):
    job = PeriodicJob("toggle", FUNC, every=60, queue=QUEUE)
    runner = schedule(connection, job, T0)
    assert steps.periodic_enable(connection, "toggle", False)
    fired = runner.run_due(connection, due_reply(T0, ("toggle", T0)))
    assert [f.outcome for f in fired] == ["disabled"]
    assert queued(connection) == [] and next_tick(connection, "toggle") == T0 + 60
    assert not read_statuses(connection)["toggle"].enabled
    steps.periodic_enable(connection, "toggle", True)
    assert [f.outcome for f in runner.run_due(connection, due_reply(T0 + 60,
                                                                   ("toggle", T0 + 60)))] \
        == ["fired"]
    assert not steps.periodic_enable(connection, "no-such-job", True)


def test_a_starting_worker_keeps_an_unchanged_schedule_and_takes_over_a_changed_one(
        connection):
    kept = PeriodicJob("kept", FUNC, every=60, queue=QUEUE)
    changed = PeriodicJob("changed", FUNC, every=60, queue=QUEUE)
    PeriodicRunner([kept, changed]).sync(connection)
    for name in ("kept", "changed"):
        connection.zadd(keys.periodics(), {name: T0})  # as if their next tick were T0
    connection.hset(keys.periodic("kept"), "last_job", "some-job")
    steps.periodic_enable(connection, "kept", False)  # an operator's choice survives
    changed_now = PeriodicJob("changed", FUNC, every=60, queue=QUEUE, args=[1])
    PeriodicRunner([kept, changed_now]).sync(connection)
    assert next_tick(connection, "kept") == T0
    server_now = connection.time()[0]
    # taken over: from its next tick after now (or within the late window), not T0
    assert server_now - LATE_AFTER < next_tick(connection, "changed") <= server_now + 60
    statuses = read_statuses(connection)
    assert not statuses["kept"].enabled and statuses["kept"].last_job_id == "some-job"
    assert statuses["changed"].summary["func"] == FUNC


def test_a_new_definition_starts_after_now_with_no_catch_up(connection):
    job = PeriodicJob("new", FUNC, every=1, queue=QUEUE, overlap=True)
    before = connection.time()[0]
    PeriodicRunner([job]).sync(connection)
    assert next_tick(connection, "new") > before  # never a burst of the last ten seconds


def test_a_replaced_definition_starts_after_its_last_run(connection):
    job = PeriodicJob("every", FUNC, every=1, queue=QUEUE, overlap=True)
    runner = schedule(connection, job, T0)
    now = connection.time()[0]
    connection.hset(keys.periodic("every"), "last_tick", now + 5)  # ran up to now + 5
    PeriodicRunner([PeriodicJob("every", FUNC, every=1, queue=QUEUE, args=[2])]).sync(
        connection)
    assert next_tick(connection, "every") == now + 6  # neither repeated nor dropped
    assert runner is not None


def test_workers_that_differ_do_not_undo_each_other(connection):
    ours = PeriodicJob("shared", FUNC, every=60, queue=QUEUE)
    theirs = PeriodicJob("shared", FUNC, every=60, queue=QUEUE, args=["other"])
    a, b = PeriodicRunner([ours]), PeriodicRunner([theirs])
    a.sync(connection)
    b.sync(connection)  # b started last: its definition is the stored one
    a.sync(connection)  # a's periodic confirmation changes nothing
    stored = connection.hget(keys.periodic("shared"), "digest").decode()
    assert stored == theirs.digest()
    tick = next_tick(connection, "shared")
    reply = due_reply(tick + 0.1, ("shared", tick))
    ready(a)
    ready(b)
    assert [f.outcome for f in a.run_due(connection, reply)] == ["moved"]  # not a's
    assert [f.outcome for f in b.run_due(connection, reply)] == ["fired"]
    [enqueued] = queued(connection)
    assert enqueued.args == ("other",)


def test_a_definition_no_worker_confirms_is_removed_only_once_stale(connection):
    gone = PeriodicJob("gone", FUNC, every=60, queue=QUEUE)
    other = PeriodicJob("other", FUNC, every=60, queue=QUEUE)
    PeriodicRunner([gone, other]).sync(connection)
    PeriodicRunner([other]).sync(connection)  # "gone" was confirmed just now: kept
    assert connection.zscore(keys.periodics(), "gone") is not None
    now = connection.time()[0]
    connection.hset(keys.periodic("gone"), "seen_at", now - STALE_AFTER - 1)
    PeriodicRunner([other]).sync(connection)
    assert connection.zscore(keys.periodics(), "gone") is None
    assert not connection.exists(keys.periodic("gone"))
    assert set(read_statuses(connection)) == {"other"}


def test_a_job_that_cannot_be_built_skips_its_tick_and_blocks_no_other(connection):
    broken = PeriodicJob("broken", FUNC, every=60, queue=QUEUE, args=[1])
    fine = PeriodicJob("fine", FUNC, every=60, queue=QUEUE)
    runner = ready(PeriodicRunner([broken, fine], serializer="json"))
    steps.periodic_sync(connection, [
        steps.PeriodicEntry(j.name, j.digest(), "{}", True, T0) for j in (broken, fine)],
        True, STALE_AFTER)
    broken.args = (object(),)  # JSON cannot write it (as if its setting broke)
    fired = runner.run_due(connection, due_reply(T0, ("broken", T0), ("fine", T0)))
    assert [(f.name, f.outcome) for f in fired] == [("broken", "error"), ("fine", "fired")]
    assert next_tick(connection, "broken") == T0 + 60  # claimed: not retried every second
    assert read_statuses(connection)["broken"].last_skip_reason == "error"


def test_a_worker_without_the_definition_leaves_the_tick_to_others(connection):
    theirs = PeriodicJob("theirs", FUNC, every=60, queue=QUEUE)
    schedule(connection, theirs, T0)
    mine = ready(PeriodicRunner([PeriodicJob("mine", FUNC, every=60, queue=QUEUE)]))
    assert mine.run_due(connection, due_reply(T0 + 1, ("theirs", T0))) == []
    assert next_tick(connection, "theirs") == T0


def test_run_now_enqueues_outside_the_schedule(connection):
    job = PeriodicJob("manual", FUNC, every=3600, queue=QUEUE)
    runner = schedule(connection, job, T0)
    fired = runner.run_now(connection, "manual")
    assert fired.outcome == "fired"
    [enqueued] = queued(connection)
    assert enqueued.id == fired.job_id and enqueued.periodic == "manual"
    assert enqueued.tick_at is None
    assert next_tick(connection, "manual") == T0


def test_the_due_script_uses_the_server_clock(connection):
    job = PeriodicJob("now", FUNC, every=1, queue=QUEUE, overlap=True)
    seconds, _ = connection.time()
    schedule(connection, job, seconds - 1)
    scripts.load(connection, ["periodic_due"])  # as the keeper does after NOSCRIPT
    pipe = connection.pipeline(transaction=False)
    runner = ready(PeriodicRunner([job]))
    runner.ask_on(pipe)
    [reply] = pipe.execute()
    fired = runner.run_due(connection, reply)
    assert [f.outcome for f in fired][:1] == ["fired"]
    assert fired[0].tick == seconds - 1


def test_a_corrupt_schedule_record_does_not_break_the_status_page(connection):
    job = PeriodicJob("odd", FUNC, every=60, queue=QUEUE)
    schedule(connection, job, T0)
    connection.hset(keys.periodic("odd"), mapping={"summary": "{not json", "skipped": "x",
                                                   "last_tick": "never"})
    status = read_statuses(connection)["odd"]
    assert status.summary == {} and status.skipped == 0 and status.last_tick is None


def test_a_corrupt_score_is_put_right_by_the_claim(connection):
    job = PeriodicJob("frac", FUNC, every=60, queue=QUEUE)
    runner = schedule(connection, job, T0)
    connection.zadd(keys.periodics(), {"frac": T0 + 0.5})
    fired = runner.run_due(connection, due_reply(T0 + 1, ("frac", "1800000000.5")))
    assert [f.outcome for f in fired] == ["fired"]
    assert next_tick(connection, "frac") == T0 + 60


def test_after_the_autumn_change_a_catch_up_never_repeats_a_tick(connection):
    # */30 in Paris on 2026-10-25 (03:00 CEST goes back to 02:00 CET at 01:00 UTC): the
    # tick 02:00 CEST (00:00 UTC) ran, 02:30 CEST (00:30 UTC) is the next stored; found at
    # 02:15 CET (01:15 UTC), late: the latest tick by the wall clock is 02:00, whose first
    # occurrence already ran; the catch-up is for 02:30 CEST, never 02:00 again
    job = PeriodicJob("dst", FUNC, cron="*/30 * * * *", timezone="Europe/Paris",
                      queue=QUEUE, overlap=True)
    due = 1792888200  # 2026-10-25T00:30:00Z
    now = 1792890900  # 2026-10-25T01:15:00Z
    assert job.last_tick(now) == due - 1800  # the clock module's answer alone would repeat
    runner = schedule(connection, job, due)
    [result] = runner.run_due(connection, due_reply(now, ("dst", due)))
    assert result.outcome == "fired" and result.tick == due
    assert next_tick(connection, "dst") == job.next_tick(now)
