"""Job: what to call and how, its stored fields, and the operations on one job."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from . import keys, scripts
from .connections import resolve_connection
from .exceptions import (
    DeserializationError,
    InvalidJobId,
    InvalidJobOperation,
    NoSuchJobError,
    SerializationError,
)
from .results import RESULTS_KEPT, Result
from .serializers import (
    dumps_signed,
    loads_signed,
    resolve_serializer,
    serializer_path,
)
from .utils import decode, from_timestamp, import_attribute, parse_duration

if TYPE_CHECKING:
    from datetime import datetime

    from redis import Redis

DEFAULT_TIMEOUT = 180
DEFAULT_RESULT_TTL = 500
DEFAULT_FAILURE_TTL = 365 * 24 * 3600
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
ON_WORKER_LOST = ("requeue", "fail")


class JobStatus(str, Enum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


class Retry:
    """``Retry(max=3, interval=[10, 30, 60])``: retry a failed job up to ``max`` times."""

    def __init__(self, max: int, interval: int | Sequence[int] = 0) -> None:
        if not isinstance(max, int) or isinstance(max, bool) or max < 1:
            raise ValueError(f"Retry max must be a positive int, not {max!r}")
        intervals = [interval] if isinstance(interval, int) else list(interval)
        if not intervals or any(not isinstance(i, int) or i < 0 for i in intervals):
            raise ValueError(f"Retry intervals must be ints >= 0, not {interval!r}")
        self.max = max
        self.intervals = intervals


class Callback:
    """A success/failure callback given by function or dotted path, stored by name."""

    def __init__(self, func: Any, timeout: Any = None) -> None:
        self.func_name = func if isinstance(func, str) else callable_name(func, "callback")
        self.timeout = parse_duration(timeout, "callback timeout")


def validate_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidJobId(f"Invalid job id {job_id!r}: use 1 to 128 of [A-Za-z0-9_-]")
    return job_id


def callable_name(func: Any, what: str = "function") -> str:
    """The importable dotted name of a module-level function, builtin or class."""
    module = getattr(func, "__module__", None) or "builtins"
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if not qualname:
        raise TypeError(f"{what} {func!r} has no importable name")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise TypeError(
            f"{what} {qualname!r} cannot be imported by a worker: use a module-level function"
        )
    return f"{module}.{qualname}"


def _split_callable(func: Any) -> tuple[str, Any]:
    """(func_name, instance) for anything a job may call."""
    if isinstance(func, str):
        if "." not in func:
            raise TypeError(f"{func!r} is not a dotted path to a function")
        return func, None
    owner = getattr(func, "__self__", None)
    bound = owner is not None and not inspect.ismodule(owner) and not inspect.isclass(owner)
    if (inspect.ismethod(func) or inspect.isbuiltin(func)) and bound:
        return func.__name__, owner  # bound method: the instance travels with the job
    if inspect.isroutine(func) or inspect.isclass(func):
        return callable_name(func), None
    if callable(func):
        return "__call__", func  # a callable instance
    raise TypeError(f"Expected a function or a dotted path, got {func!r}")


class Job:
    """A job stored in Redis as one hash. Create with :meth:`create`, read with :meth:`fetch`."""

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer=None):
        self._id = id
        self.connection = resolve_connection(connection)
        self.serializer = resolve_serializer(serializer)
        self._func_name: str | None = None
        self._instance: Any = None
        self._args: tuple = ()
        self._kwargs: dict = {}
        self._callbacks: tuple[str | None, str | None] = (None, None)
        self._data_blob: bytes | None = None
        self._data_loaded = True
        self._meta: dict | None = {}
        self._meta_blob: bytes | None = None
        self.description: str | None = None
        self.origin: str = ""
        self._status: JobStatus | None = None
        self.timeout: int | None = None
        self.result_ttl: int | None = None
        self.failure_ttl: int | None = None
        self.ttl: int | None = None
        self.priority: int = 0
        self.created_at: datetime | None = None
        self.enqueued_at: datetime | None = None
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.exc_info: str | None = None
        self.worker_name: str | None = None
        self.attempts: int = 0
        self.retries_left: int | None = None
        self.retry_max: int = 0
        self.retry_intervals: list[int] = []
        self.dependency_ids: list[str] = []
        self.on_worker_lost: str = "requeue"
        self.lost_count: int = 0
        self.last_lost_at: datetime | None = None
        self.last_lost_worker: str | None = None
        self._fields: dict[bytes, bytes] = {}

    # --- creation --------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        func: Any,
        args: Sequence | None = None,
        kwargs: dict | None = None,
        connection: Redis | None = None,
        result_ttl: Any = None,
        ttl: Any = None,
        status: JobStatus | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        timeout: Any = None,
        id: str | None = None,
        origin: str = "",
        meta: dict | None = None,
        failure_ttl: Any = None,
        serializer: Any = None,
        *,
        on_success: Any = None,
        on_failure: Any = None,
        retry: Retry | None = None,
        priority: int = 0,
        on_worker_lost: str = "requeue",
    ) -> Job:
        """Build a job in memory (nothing is written until ``save()`` or an enqueue)."""
        if args is None:
            args = ()
        if kwargs is None:
            kwargs = {}
        if not isinstance(args, list | tuple):
            raise TypeError(f"args must be a tuple or list, not {type(args).__name__}")
        if not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict, not {type(kwargs).__name__}")
        job = cls(id=validate_job_id(id) if id is not None else None, connection=connection,
                  serializer=serializer)
        job._func_name, job._instance = _split_callable(func)
        job._args, job._kwargs = tuple(args), dict(kwargs)
        job._callbacks = (
            _callback_name(on_success, "on_success"),
            _callback_name(on_failure, "on_failure"),
        )
        job.description = description
        job.origin = origin
        job._status = JobStatus(status) if status else None
        job.timeout = parse_duration(timeout, "job_timeout")
        job.result_ttl = parse_duration(result_ttl, "result_ttl")
        job.failure_ttl = parse_duration(failure_ttl, "failure_ttl")
        job.ttl = parse_duration(ttl, "ttl")
        if job.ttl is not None and job.ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        if not isinstance(priority, int) or isinstance(priority, bool) or not (
            -100 <= priority <= 100
        ):
            raise ValueError(f"priority must be an int from -100 to 100, not {priority!r}")
        job.priority = priority
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict, not {type(meta).__name__}")
        job._meta = dict(meta or {})
        if retry is not None:
            if not isinstance(retry, Retry):
                raise TypeError(f"retry must be a Retry(...), not {retry!r}")
            job.retries_left = job.retry_max = retry.max
            job.retry_intervals = retry.intervals
        if on_worker_lost not in ON_WORKER_LOST:
            raise ValueError(
                f"on_worker_lost must be one of {ON_WORKER_LOST}, not {on_worker_lost!r}"
            )
        job.on_worker_lost = on_worker_lost
        job.dependency_ids = _dependency_ids(depends_on)
        return job

    # --- identity --------------------------------------------------------------------

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = os.urandom(16).hex()
        return self._id

    def get_id(self) -> str:
        return self.id

    @property
    def key(self) -> str:
        return keys.job(self.id)

    def __repr__(self) -> str:
        return f"Job({self.id!r}, func_name={self._func_name!r}, status={self._status})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # --- the call --------------------------------------------------------------------

    def _load_data(self) -> None:
        if self._data_loaded:
            return
        if self._data_blob is None:
            raise DeserializationError(f"Job {self.id} has no stored call data")
        func_name, instance, args, kwargs, on_success, on_failure = loads_signed(
            self.serializer, self._data_blob
        )
        self._func_name, self._instance = func_name, instance
        self._args, self._kwargs = tuple(args), dict(kwargs)
        self._callbacks = (on_success, on_failure)
        self._data_loaded = True

    @property
    def func_name(self) -> str | None:
        return self._func_name

    @property
    def args(self) -> tuple:
        self._load_data()
        return self._args

    @property
    def kwargs(self) -> dict:
        self._load_data()
        return self._kwargs

    @property
    def instance(self) -> Any:
        self._load_data()
        return self._instance

    @property
    def func(self) -> Any:
        """The callable, imported from the signed call data (never from a display field)."""
        self._load_data()
        if self._instance is not None:
            return getattr(self._instance, self._func_name)
        return import_attribute(self._func_name)

    @property
    def success_callback(self) -> Any:
        self._load_data()
        return import_attribute(self._callbacks[0]) if self._callbacks[0] else None

    @property
    def failure_callback(self) -> Any:
        self._load_data()
        return import_attribute(self._callbacks[1]) if self._callbacks[1] else None

    def get_call_string(self) -> str:
        try:
            args = ", ".join([repr(a) for a in self.args] +
                             [f"{k}={v!r}" for k, v in self.kwargs.items()])
        except DeserializationError:
            args = "<unreadable>"
        return f"{self._func_name}({args})"

    # --- meta ------------------------------------------------------------------------

    @property
    def meta(self) -> dict:
        if self._meta is None:
            self._meta = loads_signed(self.serializer, self._meta_blob) if self._meta_blob else {}
        return self._meta

    @meta.setter
    def meta(self, value: dict) -> None:
        self._meta = value

    def save_meta(self) -> None:
        """Write meta alone, visible to other processes at once; never touches status."""
        blob = self._dump("meta", self.meta)
        scripts.get("save_meta")(self.connection, self.id, blob)

    def get_meta(self, refresh: bool = True) -> dict:
        if refresh:
            blob = self.connection.hget(self.key, "meta")
            self._meta, self._meta_blob = None, blob
        return self.meta

    # --- status ----------------------------------------------------------------------

    @property
    def status(self) -> JobStatus | None:
        return self._status

    def get_status(self, refresh: bool = True) -> JobStatus | None:
        if refresh:
            value = self.connection.hget(self.key, "status")
            self._status = JobStatus(value.decode()) if value else None
        return self._status

    def set_status(self, status: JobStatus | str) -> None:
        self._status = JobStatus(status)

    is_queued = property(lambda self: self.get_status() == JobStatus.QUEUED)
    is_started = property(lambda self: self.get_status() == JobStatus.STARTED)
    is_finished = property(lambda self: self.get_status() == JobStatus.FINISHED)
    is_failed = property(lambda self: self.get_status() == JobStatus.FAILED)
    is_deferred = property(lambda self: self.get_status() == JobStatus.DEFERRED)
    is_scheduled = property(lambda self: self.get_status() == JobStatus.SCHEDULED)
    is_canceled = property(lambda self: self.get_status() == JobStatus.CANCELED)
    is_stopped = property(lambda self: self.get_status() == JobStatus.STOPPED)

    # --- results ---------------------------------------------------------------------

    def results(self) -> list[Result]:
        """Every kept execution outcome, newest first."""
        blobs = self.connection.lrange(keys.results(self.id), 0, RESULTS_KEPT - 1)
        return [Result.from_payload(self.id, blob, self.serializer) for blob in blobs]

    def latest_result(self) -> Result | None:
        blob = self.connection.lindex(keys.results(self.id), 0)
        return Result.from_payload(self.id, blob, self.serializer) if blob else None

    def return_value(self, refresh: bool = True) -> Any:
        latest = self.latest_result()
        if latest is not None and latest.type == Result.Type.SUCCESSFUL:
            return latest.return_value
        return None

    @property
    def result(self) -> Any:
        """The return value of the latest successful execution, or None."""
        return self.return_value()

    # --- storage ---------------------------------------------------------------------

    def _dump(self, what: str, obj: Any) -> bytes:
        try:
            return dumps_signed(self.serializer, obj)
        except Exception as exc:
            raise SerializationError(f"Job {what} cannot be serialized: {exc}") from exc

    def data_blob(self) -> bytes:
        """The signed call payload; names the argument that cannot be serialized."""
        if self._data_blob is not None and self._data_loaded is False:
            return self._data_blob
        call = (self._func_name, self._instance, self._args, self._kwargs, *self._callbacks)
        try:
            self._data_blob = dumps_signed(self.serializer, call)
        except Exception as exc:
            raise SerializationError(self._explain_unserializable(exc)) from exc
        return self._data_blob

    def _explain_unserializable(self, exc: Exception) -> str:
        suspects: list[tuple[str, Any]] = [(f"argument {i}", a) for i, a in enumerate(self._args)]
        suspects += [(f"keyword argument {k!r}", v) for k, v in self._kwargs.items()]
        suspects.append(("the instance of the bound method", self._instance))
        for label, value in suspects:
            try:
                self.serializer.dumps(value)
            except Exception as inner:
                return (
                    f"Cannot enqueue {self._func_name}: {label} ({type(value).__name__}) "
                    f"cannot be serialized with {serializer_path(self.serializer)}: {inner}"
                )
        return f"Cannot enqueue {self._func_name}: its call cannot be serialized: {exc}"

    def stored_fields(self) -> list[Any]:
        """Field/value pairs written at enqueue (status, origin and times come from Redis)."""
        fields: list[Any] = ["data", self.data_blob(), "func_name", self._func_name,
                             "priority", self.priority]
        if self._meta:
            fields += ["meta", self._dump("meta", self._meta)]
        optional = (
            ("description", self.description),
            ("timeout", self.timeout),
            ("result_ttl", self.result_ttl),
            ("failure_ttl", self.failure_ttl),
            ("ttl", self.ttl),
        )
        for name, value in optional:
            if value is not None:
                fields += [name, value]
        if self.retry_max:
            fields += ["retries_left", self.retries_left, "retry_max", self.retry_max,
                       "retry_intervals", ",".join(map(str, self.retry_intervals))]
        if self.dependency_ids:
            fields += ["dependency_ids", ",".join(self.dependency_ids)]
        if self.serializer is not resolve_serializer(None):
            fields += ["serializer", serializer_path(self.serializer)]
        if self.on_worker_lost != "requeue":
            fields += ["on_worker_lost", self.on_worker_lost]
        return fields

    def save(self, pipeline: Any = None) -> None:
        """Write every field of the job (it joins no queue: enqueue does that)."""
        from .utils import utcnow

        if self.created_at is None:
            self.created_at = utcnow()
        pairs = self.stored_fields()
        mapping = dict(zip(pairs[::2], pairs[1::2], strict=True))
        mapping["origin"] = self.origin or ""
        mapping["created_at"] = f"{self.created_at.timestamp():.6f}"
        if self._status is not None:
            mapping["status"] = self._status.value
        for name in ("enqueued_at", "started_at", "ended_at"):
            value = getattr(self, name)
            if value is not None:
                mapping[name] = f"{value.timestamp():.6f}"
        for name in ("exc_info", "worker_name"):
            if getattr(self, name):
                mapping[name] = getattr(self, name)
        conn = pipeline if pipeline is not None else self.connection.pipeline()
        conn.hset(self.key, mapping=mapping)
        if self.ttl:
            conn.expire(self.key, self.ttl)
        if pipeline is None:
            conn.execute()

    def refresh(self) -> None:
        fields = self.connection.hgetall(self.key)
        if not fields:
            raise NoSuchJobError(f"No such job: {self.id}")
        self._restore(fields)

    def _restore(self, fields: dict[bytes, bytes]) -> None:
        """Fill the job from its stored hash; the call and meta are read lazily."""
        get = fields.get
        self._fields = fields
        stored_serializer = decode(get(b"serializer"))
        if stored_serializer:
            try:
                self.serializer = resolve_serializer(stored_serializer)
            except ValueError:
                self.serializer = _UnknownSerializer(stored_serializer)
        self._data_blob = get(b"data")
        self._data_loaded = False
        self._func_name = decode(get(b"func_name"))
        self._meta, self._meta_blob = None, get(b"meta")
        self.description = decode(get(b"description"))
        self.origin = decode(get(b"origin")) or ""
        status = get(b"status")
        self._status = JobStatus(status.decode()) if status else None
        self.timeout = _int(get(b"timeout"))
        self.result_ttl = _int(get(b"result_ttl"))
        self.failure_ttl = _int(get(b"failure_ttl"))
        self.ttl = _int(get(b"ttl"))
        self.priority = _int(get(b"priority")) or 0
        self.created_at = from_timestamp(get(b"created_at"))
        self.enqueued_at = from_timestamp(get(b"enqueued_at"))
        self.started_at = from_timestamp(get(b"started_at"))
        self.ended_at = from_timestamp(get(b"ended_at"))
        self.exc_info = decode(get(b"exc_info"))
        self.worker_name = decode(get(b"worker_name"))
        self.attempts = _int(get(b"attempts")) or 0
        self.retries_left = _int(get(b"retries_left"))
        self.retry_max = _int(get(b"retry_max")) or 0
        intervals = decode(get(b"retry_intervals"))
        self.retry_intervals = [int(i) for i in intervals.split(",")] if intervals else []
        deps = decode(get(b"dependency_ids"))
        self.dependency_ids = deps.split(",") if deps else []
        self.on_worker_lost = decode(get(b"on_worker_lost")) or "requeue"
        self.lost_count = _int(get(b"lost_count")) or 0
        self.last_lost_at = from_timestamp(get(b"last_lost_at"))
        self.last_lost_worker = decode(get(b"last_lost_worker"))

    @classmethod
    def from_fields(cls, job_id: str, fields: dict[bytes, bytes], connection: Redis,
                    serializer: Any = None) -> Job:
        job = cls(job_id, connection=connection, serializer=serializer)
        job._restore(fields)
        return job

    @classmethod
    def fetch(cls, id: str, connection: Redis | None = None, serializer: Any = None) -> Job:
        job = cls(id, connection=connection, serializer=serializer)
        job.refresh()
        return job

    @classmethod
    def fetch_many(cls, job_ids: Iterable[str], connection: Redis | None = None,
                   serializer: Any = None) -> list[Job | None]:
        """Fetch many jobs in one round trip; a missing id gives None in its place."""
        connection = resolve_connection(connection)
        job_ids = [decode(i) for i in job_ids]
        pipe = connection.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(keys.job(job_id))
        return [
            cls.from_fields(job_id, fields, connection, serializer) if fields else None
            for job_id, fields in zip(job_ids, pipe.execute(), strict=True)
        ]

    @classmethod
    def exists(cls, job_id: str, connection: Redis | None = None) -> bool:
        return bool(resolve_connection(connection).exists(keys.job(job_id)))

    # --- moves -----------------------------------------------------------------------

    def delete(self, pipeline: Any = None, remove_from_queue: bool = True, **_: Any) -> None:
        """Delete the job and every trace of it: queue or registry entry, results."""
        scripts.get("delete")(self.connection, self.id)

    def cancel(self) -> None:
        """Queued, scheduled or deferred -> canceled registry."""
        reply = decode(scripts.get("cancel")(self.connection, self.id))
        if reply == "missing":
            raise NoSuchJobError(f"No such job: {self.id}")
        if reply != "ok":
            raise InvalidJobOperation(
                f"Job {self.id} cannot be canceled: it is {reply.split(':', 1)[1]}"
            )
        self._status = JobStatus.CANCELED

    def requeue(self, at_front: bool = False,
                allowed: Sequence[str] = ("failed", "stopped")) -> Job:
        """Put a failed job back on its origin queue (exc_info cleared, meta kept)."""
        requeue_jobs(self.connection, [self.id], at_front=at_front, allowed=allowed)
        self._status = JobStatus.QUEUED
        self.exc_info = None
        return self


def requeue_jobs(connection: Redis, job_ids: Sequence[str], at_front: bool = False,
                 allowed: Sequence[str] = ("failed", "stopped")) -> int:
    """Requeue jobs by id in one round trip; raises on the first that cannot be requeued."""
    reply = scripts.get("requeue")(
        connection, ",".join(allowed), "1" if at_front else "", "ids", *job_ids
    )
    for job_id, outcome in zip(job_ids, reply[1:], strict=True):
        outcome = decode(outcome)
        if outcome == "missing":
            raise NoSuchJobError(f"No such job: {job_id}")
        if outcome != "ok":
            raise InvalidJobOperation(
                f"Job {job_id} cannot be requeued: it is {outcome.split(':', 1)[1]}, "
                f"not {' or '.join(allowed)}"
            )
    return int(reply[0])


class _UnknownSerializer:
    """Stands in for a serializer this process does not know: reading raises, clearly."""

    def __init__(self, path: str) -> None:
        self.path = path

    def dumps(self, obj: Any) -> bytes:
        raise SerializationError(f"Unknown serializer {self.path!r}")

    def loads(self, data: bytes) -> Any:
        raise DeserializationError(
            f"The job was stored with serializer {self.path!r}, which this process cannot load"
        )


def _int(value: bytes | None) -> int | None:
    return int(value) if value not in (None, b"") else None


def _callback_name(callback: Any, what: str) -> str | None:
    if callback is None:
        return None
    if isinstance(callback, Callback):
        return callback.func_name
    if isinstance(callback, str):
        return callback
    return callable_name(callback, what)


def _dependency_ids(depends_on: Any) -> list[str]:
    if depends_on is None:
        return []
    items = depends_on if isinstance(depends_on, list | tuple) else [depends_on]
    ids = []
    for item in items:
        job_id = item.id if isinstance(item, Job) else item
        ids.append(validate_job_id(job_id))
    return ids
