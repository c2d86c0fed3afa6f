"""Serializers (pickle default, JSON, custom by dotted path), HMAC signing of stored payloads,
and how workers treat tampered, corrupt or unloadable jobs (fail that job, go on)."""

from __future__ import annotations

import json
import pickle
import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from django_jobqueue import (
    InvalidSignature,
    Job,
    JobStatus,
    JSONSerializer,
    Queue,
    Result,
    SerializationError,
    Worker,
    set_signing_key,
)
from django_jobqueue.engine import keys, serializers
from tests.engine import jobs_job as jobs

SIGNATURE = 1 + 32  # version byte + HMAC-SHA256 in front of every signed payload


def burst(queue: Queue) -> Worker:
    worker = Worker([queue], connection=queue.connection)
    worker.work(burst=True)
    return worker


def status_of(connection, job_id: str) -> str | None:
    value = connection.hget(keys.job(job_id), "status")
    return value.decode() if value else None


def exc_info_of(connection, job: Job) -> str:
    return (connection.hget(job.key, "exc_info") or b"").decode()


@pytest.fixture
def signing_key():
    """Restores the process's signing key after the test changes it."""
    original = serializers._signing_key
    yield set_signing_key
    set_signing_key(original)


# --- pickle (default) -------------------------------------------------------------------------


def test_pickle_is_the_default(connection, queue):
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    args = (when, {1, 2}, Decimal("1.50"), (3, 4))
    job = queue.enqueue(jobs.echo, *args, key=b"bytes")
    assert connection.hget(job.key, "serializer") in (None, b"pickle")
    call = pickle.loads(connection.hget(job.key, "data")[SIGNATURE:])
    assert "tests.engine.jobs_job.echo" in call and args in call
    burst(queue)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.result == [list(args), {"key": b"bytes"}]


# --- JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["json", JSONSerializer, "django_jobqueue.serializers.JSONSerializer",
             "django_jobqueue.engine.serializers.JSONSerializer"],
    ids=["alias", "class", "dotted-path", "engine-dotted-path"],
)
def test_json_serializer(connection, spec):
    queue = Queue("json", connection=connection, serializer=spec)
    job = queue.enqueue(jobs.echo, 1, (2, 3), meta={"m": "v"}, k="w")
    assert connection.hget(job.key, "serializer") == b"json"
    call = json.loads(connection.hget(job.key, "data")[SIGNATURE:])
    assert "tests.engine.jobs_job.echo" in call
    assert json.loads(connection.hget(job.key, "meta")[SIGNATURE:]) == {"m": "v"}
    fetched = Job.fetch(job.id, connection=connection)  # the stored serializer is used
    assert fetched.args == (1, [2, 3]) and fetched.kwargs == {"k": "w"}
    burst(queue)
    fetched.refresh()
    assert fetched.get_status() == JobStatus.FINISHED
    assert fetched.result == [[1, [2, 3]], {"k": "w"}]  # tuples come back as lists
    assert json.loads(connection.lindex(keys.results(job.id), 0)[SIGNATURE:])


def test_json_refuses_a_non_json_argument_at_enqueue(connection):
    queue = Queue("json", connection=connection, serializer="json")
    with pytest.raises(SerializationError, match="argument 1 \\(set\\)"):
        queue.enqueue(jobs.echo, 1, {2})
    assert connection.dbsize() == 0


# --- custom, by dotted path -----------------------------------------------------------------


def test_custom_serializer_by_dotted_path(connection):
    path = "tests.engine.jobs_job.TaggedJSONSerializer"
    queue = Queue("custom", connection=connection, serializer=path)
    assert queue.serializer is jobs.TaggedJSONSerializer
    job = queue.enqueue(jobs.add, 2, 5)
    assert connection.hget(job.key, "serializer") == path.encode()
    assert connection.hget(job.key, "data")[SIGNATURE:].startswith(jobs.TaggedJSONSerializer.TAG)
    burst(queue)
    job = Job.fetch(job.id, connection=connection)
    assert job.get_status() == JobStatus.FINISHED and job.result == 7
    assert job.args == (2, 5)


def test_unknown_serializer_path_is_refused(connection):
    with pytest.raises(ValueError, match="no_such_module_xyz"):
        Queue("x", connection=connection, serializer="no_such_module_xyz.Serializer")


# --- HMAC signing ---------------------------------------------------------------------------


def flip_byte(connection, key: str, field: str, index: int) -> None:
    blob = bytearray(connection.hget(key, field))
    blob[index] ^= 0x01
    connection.hset(key, field, bytes(blob))


@pytest.mark.parametrize("index", [-1, SIGNATURE // 2], ids=["payload-byte", "signature-byte"])
def test_tampered_payload_fails_that_job_and_the_worker_goes_on(connection, queue, index):
    victim = queue.enqueue(jobs.set_marker, "victim-ran")
    after = queue.enqueue(jobs.add, 1, 2)
    flip_byte(connection, victim.key, "data", index)
    with pytest.raises(InvalidSignature):
        _ = Job.fetch(victim.id, connection=connection).args
    burst(queue)
    assert status_of(connection, victim.id) == "failed"
    assert "signature does not match" in exc_info_of(connection, victim)
    assert not connection.exists("victim-ran")
    assert victim.id in queue.failed_job_registry
    assert Job.fetch(after.id, connection=connection).result == 3


def test_marker_payload_fires_when_its_signature_is_good(connection, queue, tmp_path):
    # control for the tests below: unpickling this payload really does create the marker
    marker = str(tmp_path / "fired")
    job = queue.enqueue(jobs.echo, jobs.MarkerPayload(marker))
    assert not jobs.marker_exists(marker)  # pickling alone does not fire it
    burst(queue)
    assert job.get_status() == JobStatus.FINISHED
    assert jobs.marker_exists(marker)


@pytest.mark.parametrize("how", ["other-key", "forged-signature"])
def test_payload_with_a_wrong_signature_is_never_deserialized(connection, queue, tmp_path,
                                                              signing_key, how):
    marker = str(tmp_path / "fired")
    if how == "other-key":
        original = serializers._signing_key
        signing_key("another key, not the worker's")
        try:
            victim = queue.enqueue(jobs.echo, jobs.MarkerPayload(marker))
        finally:
            signing_key(original)
    else:
        victim = queue.enqueue(jobs.echo, "harmless")
        call = ("tests.engine.jobs_job.echo", None, (jobs.MarkerPayload(marker),), {}, None,
                None)
        forged = b"\x01" + b"\x00" * 32 + pickle.dumps(call)
        connection.hset(victim.key, "data", forged)
    after = queue.enqueue(jobs.add, 2, 2)

    with pytest.raises(InvalidSignature, match="signature does not match"):
        _ = Job.fetch(victim.id, connection=connection).args
    burst(queue)
    assert not jobs.marker_exists(marker)
    assert status_of(connection, victim.id) == "failed"
    assert "signature does not match" in exc_info_of(connection, victim)
    assert Job.fetch(after.id, connection=connection).result == 4


def test_tampered_meta_and_results_are_never_deserialized(connection, queue, tmp_path):
    marker = str(tmp_path / "fired")
    job = queue.enqueue(jobs.add, 1, 1)
    evil = b"\x01" + b"\x00" * 32 + pickle.dumps(jobs.MarkerPayload(marker))
    connection.hset(job.key, "meta", evil)
    connection.lpush(keys.results(job.id), evil)
    fetched = Job.fetch(job.id, connection=connection)
    with pytest.raises(InvalidSignature):
        _ = fetched.meta
    latest = fetched.latest_result()
    assert latest.type == Result.Type.FAILED and "signature" in latest.exc_string
    assert not jobs.marker_exists(marker)


# --- corrupt job hashes, unloadable functions -------------------------------------------------

CORRUPTIONS = {
    "garbage-data": (lambda c, k: c.hset(k, "data", b"garbage"), "not a signed"),
    "missing-data": (lambda c, k: c.hdel(k, "data"), "no stored call data"),
    "priority": (lambda c, k: c.hset(k, "priority", "high"), "'priority'"),
    "timeout": (lambda c, k: c.hset(k, "timeout", "soon"), "'timeout'"),
    "unknown-serializer": (lambda c, k: c.hset(k, "serializer", "no_such_pkg.Ser"),
                           "no_such_pkg.Ser"),
}
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_job_hash_fails_that_job_and_the_worker_goes_on(connection, queue, corruption):
    corrupt, expected = CORRUPTIONS[corruption]
    victim = queue.enqueue(jobs.set_marker, "victim-ran")
    after = queue.enqueue(jobs.add, 3, 4)
    corrupt(connection, victim.key)
    burst(queue)
    assert status_of(connection, victim.id) == "failed"
    message = exc_info_of(connection, victim)
    assert victim.id in message and expected in message
    assert victim.id in queue.failed_job_registry
    assert not connection.exists("victim-ran")
    assert Job.fetch(after.id, connection=connection).result == 7


@pytest.mark.parametrize(
    ("path", "error"),
    [("tests.engine.jobs_job.does_not_exist", "AttributeError"),
     ("no_such_module_xyz.func", "ImportError")],
)
def test_missing_function_or_module_fails_the_job_not_the_worker(connection, queue, path,
                                                                 error):
    victim = queue.enqueue(path, 1)
    after = queue.enqueue(jobs.add, 1, 1)
    worker = burst(queue)
    assert victim.get_status() == JobStatus.FAILED
    message = exc_info_of(connection, victim)
    assert error in message and path.rsplit(".", 1)[-1] in message
    assert Job.fetch(after.id, connection=connection).result == 2
    assert worker.failed_job_count == 1 and worker.successful_job_count == 1


# --- unserializable arguments: refused at enqueue, nothing written ---------------------------


def _generator():
    yield 1


UNPICKLABLE = {
    "lock-arg": ((threading.Lock(),), {}, "argument 0 (lock)"),
    "generator-arg": ((1, _generator()), {}, "argument 1 (generator)"),
    "lock-kwarg": ((), {"lock": threading.Lock()}, "keyword argument 'lock' (lock)"),
}


def snapshot(connection) -> tuple:
    return connection.dbsize(), sorted(connection.keys("*")), connection.get(keys.seq())


@pytest.mark.parametrize("case", UNPICKLABLE)
def test_unpicklable_argument_is_refused_at_enqueue_and_nothing_is_written(connection, queue,
                                                                          case):
    args, kwargs, label = UNPICKLABLE[case]
    queue.enqueue(jobs.add, 1, 2)  # the database is not empty
    before = snapshot(connection)
    with pytest.raises(SerializationError) as info:
        queue.enqueue(jobs.echo, *args, **kwargs)
    assert label in str(info.value) and "tests.engine.jobs_job.echo" in str(info.value)
    batch = [Queue.prepare_data(jobs.add, (1, 1)), Queue.prepare_data(jobs.echo, args, kwargs)]
    with pytest.raises(SerializationError, match=label.split(" (")[0]):
        queue.enqueue_many(batch)
    with pytest.raises(SerializationError):
        Job.create(jobs.echo, args=args, kwargs=kwargs, connection=connection).save()
    assert snapshot(connection) == before
    assert queue.count == 1


def test_unpicklable_meta_is_refused_and_nothing_is_written(connection, queue):
    with pytest.raises(SerializationError, match="meta"):
        queue.enqueue(jobs.add, 1, 2, meta={"lock": threading.Lock()})
    assert connection.dbsize() == 0


# --- unserializable return values -----------------------------------------------------------

UNSERIALIZABLE_RETURNS = [
    pytest.param(None, jobs.return_lock, (), id="pickle-lock"),
    pytest.param(None, jobs.return_generator, (), id="pickle-generator"),
    pytest.param("json", "builtins.set", ([1, 2],), id="json-set"),
]


@pytest.mark.parametrize(("serializer", "func", "args"), UNSERIALIZABLE_RETURNS)
def test_unserializable_return_value_fails_the_job_and_the_worker_goes_on(connection, serializer,
                                                                          func, args):
    queue = Queue("ret", connection=connection, serializer=serializer)
    victim = queue.enqueue(func, *args)
    after = queue.enqueue(jobs.add, 5, 5)
    burst(queue)
    assert victim.get_status() == JobStatus.FAILED
    assert "return value cannot be serialized" in exc_info_of(connection, victim)
    assert victim.id in queue.failed_job_registry
    assert Job.fetch(after.id, connection=connection).result == 10


@pytest.mark.parametrize(("serializer", "func", "args"), UNSERIALIZABLE_RETURNS)
def test_unserializable_return_value_fails_an_inline_job_clearly(connection, serializer, func,
                                                                 args):
    queue = Queue("ret", connection=connection, serializer=serializer, is_async=False)
    job = queue.enqueue(func, *args)
    assert job.get_status() == JobStatus.FAILED
    assert "return value cannot be serialized" in exc_info_of(connection, job)
    assert job.id in queue.failed_job_registry
