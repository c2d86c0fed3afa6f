"""The state machine of states.py: every status has a place, the moves' sources are what the
scripts and the admin act on, and the generated Lua constants match."""

from __future__ import annotations

import pytest

from django_jobqueue import JobStatus, Queue
from django_jobqueue.engine import keys, states
from django_jobqueue.engine.results import Result


def test_every_status_has_one_place_and_a_tab():
    assert set(states.PLACE) == set(JobStatus)
    for status in JobStatus:
        assert states.tab_of(status) in states.TABS
        assert states.place_of(status) in ("queue", *keys.REGISTRY_KINDS)
    assert states.tab_of("stopped") == "failed" and states.tab_of("queued") == "queued"
    assert states.tab_of("no such status") == "queued"


def test_duplicates_are_the_statuses_an_enqueue_does_not_replace():
    assert states.ACTIVE == {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED,
                             JobStatus.DEFERRED}


@pytest.mark.parametrize(("status", "actions"), [
    ("queued", ["cancel", "delete"]), ("scheduled", ["cancel", "delete"]),
    ("deferred", ["cancel", "delete"]), ("started", ["stop", "delete"]),
    ("finished", ["requeue", "delete"]), ("failed", ["requeue", "delete"]),
    ("stopped", ["requeue", "delete"]), ("canceled", ["requeue", "delete"]),
    (None, ["delete"]), ("", ["delete"]), ("exploded", ["delete"]),
])
def test_operator_actions_follow_the_moves(status, actions):
    assert states.operator_actions(status) == actions


def test_the_moves_match_what_the_scripts_do(connection):
    """cancel's sources are CANCELABLE in the scripts: a job of each other status refuses."""
    queue = Queue("s", connection=connection)
    for status in JobStatus:
        job = queue.enqueue("builtins.print", status.value)
        connection.hset(job.key, "status", status.value)
        if states.MOVES["cancel"].allows(status):
            job.cancel()
            assert job.get_status() == JobStatus.CANCELED
        else:
            with pytest.raises(Exception, match="cannot be canceled"):
                job.cancel()


def test_the_generated_lua_spells_each_status_once():
    source = dict(states.lua_definitions())
    for status in JobStatus:
        assert source[f"S_{status.name}"] == f"local S_{status.name} = '{status.value}'"
    assert "queued = true" in source["CANCELABLE"] and "started" not in source["CANCELABLE"]
    assert str(states.DEFAULT_FAILURE_TTL) in source["DEFAULT_FAILURE_TTL"]
    assert states.failure_ttl_of(0) == states.FOREVER
    assert states.failure_ttl_of(None) == states.DEFAULT_FAILURE_TTL


def test_a_result_entry_with_an_impossible_time_still_reads():
    from django_jobqueue.engine.serializers import PickleSerializer, dumps_signed

    blob = dumps_signed(PickleSerializer, {"t": 1, "v": 3, "e": None, "w": "w1",
                                           "s": 1e300, "f": float("inf")})
    result = Result.from_payload("j", blob, PickleSerializer)
    assert (result.return_value, result.started_at, result.ended_at) == (3, None, None)
