"""Dependencies that can fail (issue 11): Dependency(allow_failure=, enqueue_at_front=), the
cancel cascade when a parent ends without finishing (with its reason, in the parent's own
step), the requeue that restores it, the accessors on a job's parents, and chain()."""

from __future__ import annotations

import pytest

from django_jobqueue import (
    Chain,
    Dependency,
    Job,
    JobStatus,
    NoSuchJobError,
    Queue,
    Retry,
    chain,
    get_failed_queue,
)
from django_jobqueue.engine import keys, steps
from django_jobqueue.engine.moves import stop_job
from django_jobqueue.job import Dependency as RQPathDependency
from tests.engine import jobs_worker as jobs
from tests.engine.jobs_dependencies import parents_view
from tests.engine.jobs_faults import QUEUE
from tests.engine.jobs_queue import assert_in_one_place
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(60)


def burst(queue):
    jobs.make_worker([queue], queue.connection).work(burst=True)


def fetch(connection, job):
    return Job.fetch(job.id, connection=connection)


def test_dependency_is_importable_where_rq_has_it(connection):
    assert RQPathDependency is Dependency
    with pytest.raises(ValueError, match="at least one job"):
        Dependency(jobs=[])
    with pytest.raises(TypeError, match="one Dependency"):
        Job.create(jobs.record, args=("x",), depends_on=[Dependency(["a"])],
                   connection=connection)


# --- allow_failure -------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["finished", "failed", "canceled"])
def test_allow_failure_runs_the_dependent_once_the_parent_ended(queue, connection, outcome):
    func, args = (jobs.record, ("parent",)) if outcome == "finished" else (jobs.raise_error, ())
    parent = queue.enqueue(func, *args)
    child = queue.enqueue(jobs.record, "child",
                          depends_on=Dependency(jobs=[parent], allow_failure=True))
    assert child.get_status() == JobStatus.DEFERRED
    stored = fetch(connection, child)
    assert stored.allow_dependency_failures is True
    if outcome == "canceled":
        parent.cancel()
        assert child.get_status() == JobStatus.QUEUED  # released in the cancel's step
    burst(queue)
    assert parent.get_status() == outcome
    assert child.get_status() == JobStatus.FINISHED
    assert jobs.order(connection)[-1] == "child"


def test_allow_failure_runs_the_dependent_after_a_stopped_parent(queue, connection):
    parent = queue.enqueue(jobs.wait_for_key, "never-set", 30)
    child = queue.enqueue(jobs.record, "child",
                          depends_on=Dependency([parent], allow_failure=True))
    with jobs.in_thread(jobs.make_worker([queue], connection)):
        wait_until(lambda: parent.get_status() == JobStatus.STARTED, timeout=10)
        stop_job(connection, parent.id)
        wait_until(lambda: child.get_status() == JobStatus.FINISHED, timeout=10)
    assert parent.get_status() == JobStatus.STOPPED
    assert jobs.order(connection) == ["child"]


def test_a_stopped_parent_cancels_its_dependent(queue, connection):
    parent = queue.enqueue(jobs.wait_for_key, "never-set", 30)
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    with jobs.in_thread(jobs.make_worker([queue], connection)):
        wait_until(lambda: parent.get_status() == JobStatus.STARTED, timeout=10)
        stop_job(connection, parent.id)
        wait_until(lambda: child.get_status() == JobStatus.CANCELED, timeout=10)
    assert fetch(connection, child).canceled_reason == f"dependency {parent.id} was stopped"


def test_allow_failure_waits_for_every_parent_to_end(queue, connection):
    failing = queue.enqueue(jobs.raise_error)
    waiting = queue.enqueue(jobs.record, "later", job_id="later-parent", at_front=False)
    connection.hset(waiting.key, "status", "scheduled")  # not ended: the child must wait
    connection.zrem(keys.queue(queue.name), waiting.id)
    child = queue.enqueue(jobs.record, "child",
                          depends_on=Dependency([failing, waiting], allow_failure=True))
    burst(queue)
    assert child.get_status() == JobStatus.DEFERRED
    assert fetch(connection, child).dependencies_pending == [waiting.id]


# --- the cancel cascade --------------------------------------------------------------------


def two_levels(queue):
    parent = queue.enqueue(jobs.fail_until, "jqtest:parent-calls", 2, job_id="parent")
    child = queue.enqueue(jobs.record, "child", depends_on=parent, job_id="child")
    sibling = queue.enqueue(jobs.record, "sibling", depends_on=parent, job_id="sibling")
    grandchild = queue.enqueue(jobs.record, "grandchild", depends_on=child, job_id="grandchild")
    return parent, [child, sibling, grandchild]


def test_a_failed_parent_cancels_two_levels_in_its_own_step(queue, connection):
    parent, dependents = two_levels(queue)
    # a quarantine is one call of fail.lua: the cascade is in that same step
    get_failed_queue(connection).quarantine(parent, "failed by hand")
    assert parent.get_status() == JobStatus.FAILED
    reasons = {}
    for job in dependents:
        stored = fetch(connection, job)
        assert stored.get_status(refresh=False) == JobStatus.CANCELED
        assert_in_one_place(connection, job.id, queue.name, "canceled")
        reasons[job.id] = stored.canceled_reason
    assert reasons == {
        "child": "dependency parent failed for good",
        "sibling": "dependency parent failed for good",
        "grandchild": "dependency parent failed for good (through child)",
    }
    assert queue.deferred_job_registry.count == 0


def test_requeue_restores_the_cascade_and_they_run_once_the_parent_finishes(queue,
                                                                         connection):
    parent, dependents = two_levels(queue)
    burst(queue)  # the parent fails on its first call
    assert parent.get_status() == JobStatus.FAILED
    assert [j.get_status() for j in dependents] == [JobStatus.CANCELED] * 3
    queue.failed_job_registry.requeue(parent)
    for job in dependents:
        assert job.get_status() == JobStatus.DEFERRED
        assert_in_one_place(connection, job.id, queue.name, "deferred")
        stored = fetch(connection, job)
        assert (stored.canceled_reason, stored.canceled_by, stored.ended_at) == (None,) * 3
    burst(queue)
    assert parent.get_status() == JobStatus.FINISHED
    assert [j.get_status() for j in dependents] == [JobStatus.FINISHED] * 3
    assert jobs.order(connection)[-1] == "grandchild"
    assert sorted(jobs.order(connection)) == ["child", "grandchild", "sibling"]


def test_an_operator_canceled_dependent_stays_canceled(queue, connection):
    parent, (child, sibling, grandchild) = two_levels(queue)
    sibling.cancel()  # the operator's: no parent's end did it
    assert fetch(connection, sibling).canceled_reason is None
    burst(queue)
    assert child.get_status() == JobStatus.CANCELED
    queue.failed_job_registry.requeue(parent)
    assert (child.get_status(), grandchild.get_status()) == (JobStatus.DEFERRED,) * 2
    assert sibling.get_status() == JobStatus.CANCELED
    assert_in_one_place(connection, sibling.id, queue.name, "canceled")


def test_canceling_a_deferred_job_cancels_its_own_dependents(queue, connection):
    parent, (child, _, grandchild) = two_levels(queue)
    child.cancel()
    assert grandchild.get_status() == JobStatus.CANCELED
    assert fetch(connection, grandchild).canceled_reason == "dependency child was canceled"
    assert parent.get_status() == JobStatus.QUEUED


def test_a_parent_with_retries_left_cancels_nothing_until_its_last_retry_fails(queue,
                                                                              connection):
    parent = queue.enqueue(jobs.raise_error, "again", retry=Retry(max=1, interval=1))
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    burst(queue)
    assert parent.get_status() == JobStatus.SCHEDULED  # a retry is left
    assert child.get_status() == JobStatus.DEFERRED
    with jobs.in_thread(jobs.make_worker([queue], connection, maintenance_interval=0.1)):
        wait_until(lambda: parent.get_status() == JobStatus.FAILED, timeout=10)
    assert child.get_status() == JobStatus.CANCELED
    assert_in_one_place(connection, child.id, queue.name, "canceled")


def test_a_dependency_already_failed_cancels_at_enqueue_and_requeue_restores(queue,
                                                                            connection):
    parent = queue.enqueue(jobs.fail_until, "jqtest:parent-calls", 2)
    burst(queue)
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    assert child.get_status() == JobStatus.CANCELED
    assert_in_one_place(connection, child.id, queue.name, "canceled")
    assert fetch(connection, child).canceled_reason == f"dependency {parent.id} failed for good"
    parent.requeue()
    assert child.get_status() == JobStatus.DEFERRED
    burst(queue)
    assert child.get_status() == JobStatus.FINISHED


def test_a_unique_dependent_frees_its_key_when_canceled(queue, connection):
    parent = queue.enqueue(jobs.raise_error)
    child = queue.enqueue(jobs.record, "child", depends_on=parent, unique=True)
    token = fetch(connection, child).unique_key
    assert connection.get(keys.unique(token)) == child.id.encode()
    burst(queue)
    assert child.get_status() == JobStatus.CANCELED
    assert connection.get(keys.unique(token)) is None
    again = queue.enqueue(jobs.record, "child", unique=True)  # the key is free
    assert again.id != child.id and again.get_status() == JobStatus.QUEUED
    again.cancel()
    queue.failed_job_registry.requeue(parent)  # restored: it takes its key again
    assert child.get_status() == JobStatus.DEFERRED
    assert connection.get(keys.unique(token)) == child.id.encode()


def test_a_parent_failed_after_its_worker_was_lost_cancels_its_dependents(queue, connection):
    parent = queue.enqueue(jobs.record, "parent", on_worker_lost="fail")
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    assert steps.take(connection, steps.Take("dead-worker", 60, ["default"])).job_id == parent.id
    assert steps.take_back_lost(connection, "default", ["dead-worker"], 3, "died").failed == 1
    assert child.get_status() == JobStatus.CANCELED
    assert fetch(connection, child).canceled_reason == f"dependency {parent.id} failed for good"
    assert_in_one_place(connection, child.id, queue.name, "canceled")


# --- enqueue_at_front ----------------------------------------------------------------------


def test_enqueue_at_front_puts_the_released_dependent_first(queue, connection):
    parent = queue.enqueue(jobs.record, "parent")
    other = queue.enqueue(jobs.record, "other")
    front = queue.enqueue(jobs.record, "front",
                          depends_on=Dependency([parent], enqueue_at_front=True))
    back = queue.enqueue(jobs.record, "back", depends_on=parent)
    assert fetch(connection, front).enqueue_at_front is True
    jobs.make_worker([queue], connection).work(burst=True, max_jobs=1)  # the parent only
    assert queue.job_ids == [front.id, other.id, back.id]
    burst(queue)
    assert jobs.order(connection) == ["parent", "front", "other", "back"]


# --- the accessors -------------------------------------------------------------------------


def test_a_job_reads_its_parents_and_their_results_from_inside(queue, connection):
    first = queue.enqueue(jobs.add, 1, 2)
    second = queue.enqueue(jobs.add, 10, 20)
    child = queue.enqueue(parents_view, depends_on=[first, second])
    assert fetch(connection, child).dependency == first
    assert fetch(connection, child).dependencies == [first, second]
    burst(queue)
    assert child.get_status() == JobStatus.FINISHED
    assert child.result == {"dependency": first.id, "dependencies": [first.id, second.id],
                            "results": {first.id: 3, second.id: 30}}


def test_a_job_without_dependencies_has_none(connection):
    job = Job.create(jobs.record, args=("x",), connection=connection)
    assert job.dependency is None
    assert (job.dependencies, job.dependencies_results()) == ([], {})


# --- chain ---------------------------------------------------------------------------------


def test_a_chain_of_three_runs_in_order_on_worker_processes(connection, fq, workers):
    steps = chain(fq.prepare_data(jobs.record, ("one",)),
                  fq.prepare_data(jobs.record, ("two",)),
                  fq.prepare_data(jobs.record, ("three",)), queue=fq)
    assert [job.get_status() for job in steps.jobs] == [
        JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.DEFERRED]
    workers.start("chain-1")
    workers.start("chain-2")
    wait_until(lambda: steps.jobs[2].get_status() == JobStatus.FINISHED, timeout=30,
               message=f"chain never finished\n{workers.logs()}")
    assert jobs.order(connection) == ["one", "two", "three"]
    found = Chain.fetch(steps.id, connection=connection)
    assert found.id == steps.jobs[0].id
    assert [job.id for job in found.jobs] == [job.id for job in steps.jobs]
    assert {job.chain_id for job in found.jobs} == {steps.id}
    assert found.jobs[2].dependency_ids == [steps.jobs[1].id]


def test_a_failed_step_cancels_the_rest_of_the_chain(queue, connection):
    steps = chain(queue.prepare_data(jobs.raise_error), queue.prepare_data(jobs.record, ("b",)),
                  queue.prepare_data(jobs.record, ("c",)), queue=queue)
    burst(queue)
    assert [job.get_status() for job in steps.jobs] == [
        JobStatus.FAILED, JobStatus.CANCELED, JobStatus.CANCELED]


def test_chain_refuses_bad_steps(queue):
    with pytest.raises(ValueError, match="at least two"):
        chain(queue.prepare_data(jobs.record, ("a",)), queue=queue)
    with pytest.raises(ValueError, match="depends_on of its own"):
        chain(queue.prepare_data(jobs.record, ("a",)),
              queue.prepare_data(jobs.record, ("b",), depends_on="x"), queue=queue)
    with pytest.raises(TypeError, match="prepare_data"):
        chain("nope", "nope", queue=queue)
    with pytest.raises(NoSuchJobError):
        Chain.fetch("not-a-chain", connection=queue.connection)


def test_a_chain_of_jobs_made_with_job_create(queue, connection):
    steps = chain(Job.create(jobs.record, args=("x",), connection=connection),
                  Job.create(jobs.record, args=("y",), connection=connection), queue=queue)
    burst(queue)
    assert jobs.order(connection) == ["x", "y"]
    assert Chain.fetch(steps.id, connection=connection).jobs == steps.jobs


def test_the_fault_queue_name_is_the_one_workers_serve(fq):
    assert fq.name == QUEUE


def test_a_dependent_of_two_failed_parents_comes_back_once_both_are_requeued(queue,
                                                                           connection):
    first = queue.enqueue(jobs.fail_until, "jqtest:first-calls", 2, job_id="first")
    second = queue.enqueue(jobs.fail_until, "jqtest:second-calls", 2, job_id="second")
    child = queue.enqueue(jobs.record, "child", depends_on=[first, second])
    burst(queue)
    assert fetch(connection, child).canceled_by == "first"
    first.requeue()
    stored = fetch(connection, child)  # still canceled: `second` failed too
    assert (stored.get_status(refresh=False), stored.canceled_by) == (JobStatus.CANCELED,
                                                                      "second")
    assert stored.canceled_reason == "dependency second failed for good"
    second.requeue()
    assert child.get_status() == JobStatus.DEFERRED
    burst(queue)
    assert child.get_status() == JobStatus.FINISHED


def test_the_cancel_walk_stops_at_its_limit_and_leaves_the_rest_deferred(queue, connection):
    """A bounded walk (10,000 dependents per step): past it the rest stay deferred."""
    parent = queue.enqueue(jobs.record, "p")
    queue.enqueue_many([queue.prepare_data(jobs.record, ("x",), depends_on=parent)
                        for _ in range(10_001)])
    get_failed_queue(connection).quarantine(parent, "failed by hand")
    assert queue.canceled_job_registry.count == 10_000
    assert queue.deferred_job_registry.count == 1


# --- review fixes: fan-in, corrupt data, stale members, replaces, uniqueness, assembly ------


@pytest.mark.parametrize("canceled", ["by the cascade", "at enqueue"])
def test_a_dependency_that_finished_while_its_dependent_was_canceled_stays_met(
        queue, connection, canceled):
    first = queue.enqueue(jobs.fail_until, "jqtest:first-calls", 2, job_id="first")
    if canceled == "at enqueue":
        burst(queue)  # `first` fails before the dependent exists
    other = queue.enqueue(jobs.record, "other", job_id="other")
    child = queue.enqueue(jobs.record, "child", depends_on=[first, other])
    burst(queue)  # `first` fails (or failed); `other` finishes while `child` is canceled
    assert (first.get_status(), other.get_status()) == (JobStatus.FAILED, JobStatus.FINISHED)
    assert child.get_status() == JobStatus.CANCELED
    assert fetch(connection, child).dependencies_pending == ["first"]
    first.requeue()
    stored = fetch(connection, child)
    assert (stored.get_status(refresh=False), stored.dependencies_pending) == (
        JobStatus.DEFERRED, ["first"])
    burst(queue)
    assert child.get_status() == JobStatus.FINISHED
    assert queue.deferred_job_registry.count == 0


@pytest.mark.parametrize("parent_ends", ["fails", "finishes"])
def test_a_dependent_without_its_queue_leaves_the_parents_own_move_whole(queue, connection,
                                                                          parent_ends):
    func = jobs.raise_error if parent_ends == "fails" else jobs.record
    parent = queue.enqueue(func, "parent")
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    connection.hdel(keys.job(child.id), "origin")  # corrupt: no queue to move it in
    burst(queue)
    ended = "failed" if parent_ends == "fails" else "finished"
    assert parent.get_status() == JobStatus(ended)
    assert_in_one_place(connection, parent.id, queue.name, ended)
    assert child.get_status() == JobStatus.DEFERRED  # left as it was


def test_a_wrong_type_registry_of_the_dependent_leaves_the_parent_failed(queue, connection):
    parent = queue.enqueue(jobs.raise_error)
    elsewhere = Queue("elsewhere", connection=connection)
    child = elsewhere.enqueue(jobs.record, "child", depends_on=parent)
    connection.set(keys.registry("canceled", elsewhere.name), "garbage")
    get_failed_queue(connection).quarantine(parent, "failed by hand")  # fail.lua alone
    assert parent.get_status() == JobStatus.FAILED
    assert_in_one_place(connection, parent.id, queue.name, "failed")
    assert child.get_status() == JobStatus.DEFERRED
    assert connection.zscore(keys.registry("deferred", elsewhere.name), child.id) is not None


@pytest.mark.parametrize("how", ["requeue", "enqueue again"])
def test_a_corrupt_other_parent_never_makes_a_restore_fail(queue, connection, how):
    parent = queue.enqueue(jobs.raise_error, job_id="parent")
    saved = Job.create(jobs.record, args=("saved",), id="saved", connection=connection)
    saved.save()
    child = queue.enqueue(jobs.record, "child", depends_on=[parent, saved])
    burst(queue)
    assert child.get_status() == JobStatus.CANCELED
    connection.delete(keys.job("saved"))
    connection.set(keys.job("saved"), "garbage")
    if how == "requeue":
        parent.requeue()
    else:
        queue.enqueue(jobs.record, "parent again", job_id="parent")
    assert parent.get_status() == JobStatus.QUEUED
    assert_in_one_place(connection, parent.id, queue.name, "queue")
    assert child.get_status() == JobStatus.DEFERRED


def test_a_stale_dependents_member_is_not_canceled(queue, connection):
    parent = queue.enqueue(jobs.raise_error, job_id="parent")
    queue.enqueue(jobs.record, "child", job_id="child", depends_on=parent)
    burst(queue)
    saved = Job.create(jobs.record, args=("saved",), id="saved", connection=connection)
    saved.save()
    # a new job under the id `child` waits for `saved` only: it is no dependent of `parent`
    child = queue.enqueue(jobs.record, "child again", job_id="child", depends_on=saved)
    assert child.get_status() == JobStatus.DEFERRED
    parent.requeue()
    burst(queue)  # `parent` fails again
    stored = fetch(connection, child)
    assert (stored.get_status(refresh=False), stored.canceled_reason) == (JobStatus.DEFERRED,
                                                                          None)
    assert connection.sismember(keys.dependents("parent"), "child") == 0


def test_an_id_enqueued_again_canceled_at_enqueue_restores_nothing(queue, connection):
    blocker = queue.enqueue(jobs.raise_error, job_id="blocker")
    parent = queue.enqueue(jobs.raise_error, job_id="parent")
    child = queue.enqueue(jobs.record, "child", job_id="child", depends_on=parent)
    burst(queue)
    again = queue.enqueue(jobs.record, "parent again", job_id="parent", depends_on=blocker)
    assert again.get_status() == JobStatus.CANCELED
    stored = fetch(connection, child)
    assert (stored.get_status(refresh=False), stored.canceled_by) == (JobStatus.CANCELED,
                                                                      "parent")
    assert_in_one_place(connection, child.id, queue.name, "canceled")


def test_a_unique_dependent_whose_key_is_taken_stays_canceled(queue, connection):
    parent = queue.enqueue(jobs.raise_error)
    child = queue.enqueue(jobs.record, "child", depends_on=parent, unique=True)
    burst(queue)
    holder = queue.enqueue(jobs.record, "child", unique=True)  # takes the freed key
    queue.failed_job_registry.requeue(parent)
    stored = fetch(connection, child)
    assert stored.get_status(refresh=False) == JobStatus.CANCELED
    assert stored.canceled_reason == f"its unique key is taken by {holder.id}"
    assert_in_one_place(connection, child.id, queue.name, "canceled")
    assert connection.get(keys.unique(stored.unique_key)) == holder.id.encode()


def test_a_restored_dependent_keeps_its_ttl(queue, connection):
    parent = queue.enqueue(jobs.raise_error)
    child = queue.enqueue(jobs.record, "child", depends_on=parent, ttl=3600)
    persistent = queue.enqueue(jobs.record, "persistent", depends_on=parent)
    burst(queue)
    queue.failed_job_registry.requeue(parent)
    assert child.get_status() == JobStatus.DEFERRED
    assert connection.ttl(keys.job(child.id)) > 0  # bounded still, not persisted
    assert connection.ttl(keys.job(persistent.id)) == -1


def test_scripts_carry_only_the_definitions_their_code_uses():
    from django_jobqueue.engine import scripts

    assert scripts.lua_code("a = '--x' -- end_dependents\n-- all\nb = 1") == "a = '--x' \n\nb = 1"
    assert "local function end_dependents" not in scripts.get("enqueue").source
    assert "local function restore_dependents" in scripts.get("enqueue").source
    for name in ("dequeue",):
        assert "DEPENDENTS_WALK_LIMIT" not in scripts.get(name).source
    assert "local function end_dependents" in scripts.get("fail").source
