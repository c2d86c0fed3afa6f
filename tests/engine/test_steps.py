"""steps.py against the scripts' headers: every step passes as many arguments as its
``.lua`` header's ``ARGV:`` line lists (run for real against Redis, with each script call
recorded on its way out), and every script is reached through a step."""

from __future__ import annotations

from pathlib import Path

import pytest

from django_jobqueue import Job, Queue
from django_jobqueue.engine import scripts, states, steps
from django_jobqueue.engine.channel import Channel

SCRIPTS = Path(scripts.__file__).parent / "scripts"
READ_ONLY = {"stats", "page", "search"}  # overview.py's, checked in test_operator_actions


@pytest.fixture
def calls(monkeypatch):
    """(script name, ARGV count including the prefix) of every script call made."""
    seen: list[tuple[str, int]] = []
    original_call_on, original_add_to = scripts.LuaScript.call_on, scripts.LuaScript.add_to
    original_stream = scripts.stream

    def call_on(self, conn, args):
        seen.append((self.name, len(args) + 1))
        return original_call_on(self, conn, args)

    def add_to(self, pipe, *args):
        seen.append((self.name, len(args) + 1))
        return original_add_to(self, pipe, *args)

    def stream(client, script, batches):
        seen.extend((script.name, len(b) + 1) for b in batches)
        return original_stream(client, script, batches)

    monkeypatch.setattr(scripts.LuaScript, "call_on", call_on)
    monkeypatch.setattr(scripts.LuaScript, "add_to", add_to)
    monkeypatch.setattr(scripts, "stream", stream)
    return seen


def _recording(job: Job, worker: str, attempt: int, ok: bool) -> steps.Recording:
    return steps.Recording(job_id=job.id, queue=job.origin, worker=worker, attempt=attempt,
                           entry=b"", succeeded=ok, result_ttl=60, exc_info="boom",
                           retry=False)


def _every_step(connection) -> None:
    # pipelines do not load scripts on their own (the lease keeper does, on NOSCRIPT)
    scripts.load(connection, ["enqueue", "schedule", "heartbeat", "recover", "pool_heartbeat"])
    queue = Queue("steps", connection=connection)
    a, b, c = (queue.enqueue("builtins.print", i) for i in range(3))
    queue.enqueue_many([Queue.prepare_data("builtins.print", [i]) for i in range(600)])
    pipe = connection.pipeline()
    steps.enqueue_on(pipe, "steps", "", 0, [])
    pipe.execute()
    take = steps.Take("w1", 30, ["steps"])
    channel = Channel(connection)
    taken = steps.take(channel, take)
    job = Job.fetch(taken.job_id, connection=connection)
    steps.finish(channel, _recording(job, "w1", job.attempts, True), then=take)
    job = Job.fetch(b.id, connection=connection)
    steps.fail(connection, _recording(job, "w1", 1, False), then=None)
    steps.quarantine(connection, c.id, "steps", "exc", b"")
    pipe = connection.pipeline(transaction=False)
    steps.schedule_due_on(pipe, 10, ["steps"])
    steps.heartbeat_on(pipe, "w1", 60, 30, "", "", True, ["name", "w1"])
    steps.recover_expired_on(pipe, "steps", 10, 3)
    steps.pool_heartbeat_on(pipe, 60, 30, [steps.PoolRecord("p1", True, ["kind", "pool"]),
                                           steps.PoolRecord("p1.c1.s0", False, [])],
                            [steps.Lease(a.id, "steps", "p1.c1.s0")])
    pipe.execute()
    steps.recover_expired(connection, "steps", 10, 3)
    steps.give_back(connection, "steps", "w1")
    steps.give_back(connection, "steps", "w1", "w2")
    steps.take_back_lost(connection, "steps", ["w1", "w2"], 3, "died")
    steps.requeue(connection, [c.id], states.MOVES["requeue"].sources)
    steps.requeue_batch(connection, "steps", states.MOVES["requeue"].sources, 10, 0)
    steps.cancel(connection, [a.id, b.id])
    steps.stop(connection, [a.id], 60)
    steps.save_meta(connection, a.id, b"meta")
    steps.resume_queue(connection, "steps")
    steps.delete(connection, [a.id])
    steps.delete_each(connection, [b.id, c.id])
    steps.empty(connection, "steps", 10)
    steps.empty(connection, "steps", 10, "failed")
    steps.periodic_sync(connection, [steps.PeriodicEntry("p", "d", "{}", True, 100)], True,
                        120)
    pipe = connection.pipeline(transaction=False)
    steps.periodic_due_on(pipe, 10)
    pipe.execute(raise_on_error=False)  # NOSCRIPT is fine: the call was counted
    steps.periodic_fire(connection, "p", "d", "100", 160, 100, "steps",
                        scripts.pack_fields(["periodic-p-1", 0, "data", b""]))
    steps.periodic_fire(connection, "p", "d", "160", 220, 160, "steps", b"", mode="missed")
    steps.periodic_enable(connection, "p", False)
    pipe = connection.pipeline(transaction=False)
    steps.sample_depth_on(pipe, ["steps"])
    pipe.execute(raise_on_error=False)  # NOSCRIPT is fine: the call was counted
    steps.create_group(connection, "g", 60, ["on_complete", "cb-1",
                                             scripts.pack_fields(["cb-1", "data", b""])])
    channel.close()


def test_every_step_passes_what_its_script_header_lists(connection, calls):
    _every_step(connection)
    wrong = []
    for name, count in calls:
        fewest, most = scripts.get(name).arity
        if count < fewest or (most is not None and count > most):
            wrong.append((name, count, (fewest, most)))
    assert wrong == []


def test_every_script_is_reached_through_a_step(connection, calls):
    _every_step(connection)
    files = {p.stem for p in SCRIPTS.glob("*.lua") if not p.stem.startswith("_")}
    assert files - READ_ONLY - {name for name, _ in calls} == set()


def test_the_arity_check_catches_a_wrong_count():
    fewest, most = scripts.get("cancel").arity
    assert (fewest, most) == (2, 2)  # prefix, id
    assert scripts.get("finish").arity == (9, None)  # then [lease, queues...]
    assert scripts.argv_arity("-- ARGV: prefix, a, [b, c...], d (a note, with commas).\n") \
        == (3, None)
    with pytest.raises(ValueError):
        scripts.argv_arity("-- no header\n")
