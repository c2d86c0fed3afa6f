"""Job: what to call and how, its stored fields, and the operations on one job."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from . import callbacks, dependencies, keys, limits, retries, steps
from .calls import (
    Retry,
    explain_unserializable,
    split_callable,
    validate_job_id,
    validate_on_worker_lost,
    validate_priority,
)
from .connections import resolve_connection
from .exceptions import DeserializationError, NoSuchJobError, SerializationError
from .fields import JOB_FIELDS, decode_job, job_attributes
from .moves import cancel_job, requeue_jobs
from .results import Result, results_kept
from .serializers import (
    dumps_signed,
    loads_signed,
    resolve_serializer,
    serializer_for,
    serializer_path,
)
from .states import (
    DEFAULT_FAILURE_TTL,
    DEFAULT_RESULT_TTL,
    DEFAULT_TIMEOUT,
    MOVES,
    JobStatus,
)
from .uniqueness import configure, settle_token
from .utils import decode, import_attribute, parse_duration, utcnow

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["DEFAULT_FAILURE_TTL", "DEFAULT_RESULT_TTL", "DEFAULT_TIMEOUT", "Job", "JobStatus",
           "Retry"]

#: every attribute the stored hash fills (reset before a refresh, so absent fields read as
#: the class defaults)
_STORED = tuple(attr for attr, _ in JOB_FIELDS.values())

class Job(callbacks.JobCallbacks, dependencies.JobDependencies):
    """A job stored in Redis as one hash. Create with :meth:`create`, read with :meth:`fetch`."""

    # Defaults live on the class so that building a job (every enqueue) sets only what differs.
    _func_name: str | None = None
    _instance: Any = None
    _args: tuple = ()
    _kwargs: Mapping[str, Any] = MappingProxyType({})
    _data_blob: bytes | None = None
    _data_loaded = True
    _meta: dict | None = None
    _meta_blob: bytes | None = None
    _status: JobStatus | None = None
    description: str | None = None
    origin: str = ""
    timeout: int | None = None
    result_ttl: int | None = None
    failure_ttl: int | None = None
    ttl: int | None = None
    priority: int = 0
    created_at: datetime | None = None
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exc_info: str | None = None
    worker_name: str | None = None
    attempts: int = 0
    retries_left: int | None = None
    retry_max: int = 0
    retry_intervals: Sequence[float] = ()
    #: the rest of the job's Retry (retries.py); absent: a fixed list of intervals
    retry_backoff: float | None = None
    retry_max_interval: float | None = None
    retry_jitter: bool = False
    retry_on: Sequence[str] = ()
    on_worker_lost: str = "requeue"
    lost_count: int = 0
    last_lost_at: datetime | None = None
    last_lost_worker: str | None = None
    #: dependencies not finished yet (a deferred job waits for these)
    dependencies_pending: Sequence[str] = ()
    #: when a deferred job enqueued for a later time runs once its dependencies finished
    due_at: datetime | None = None
    has_dependents: bool = False
    #: the attempt whose outcome is recorded (an outcome is recorded once per attempt)
    recorded_attempt: int | None = None
    #: unique jobs (uniqueness.py): the token held (the computed one is set at enqueue)
    unique_key: str | None = None
    unique_for: int | None = None
    _unique = False
    #: the periodic job this job is a run of, and the tick it was enqueued for
    periodic: str | None = None
    tick_at: datetime | None = None
    #: the group it belongs to (groups.py) and its limit (limits.py)
    group_id: str | None = None
    limit_key: str | None = None
    limit_rate: str | None = None
    limit_concurrency: int | None = None
    #: a trace's context carried from the enqueue to the worker (middleware.py), or None
    trace_context: dict[str, str] | None = None
    serializer_name: str | None = None

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer=None):
        self._id = id
        self.connection = resolve_connection(connection)
        self.serializer = resolve_serializer(serializer)

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
        on_stopped: Any = None,
        retry: Retry | None = None,
        priority: int = 0,
        on_worker_lost: str = "requeue",
        unique: bool = False,
        unique_for: Any = None,
        unique_key: str | None = None,
        rate_limit: Any = None,
        concurrency_limit: Any = None,
        limit_key: str | None = None,
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
        job._func_name, job._instance = split_callable(func)
        job._args, job._kwargs = tuple(args), dict(kwargs)
        job._callbacks = callbacks.from_options(on_success, on_failure, on_stopped)
        job.description = description
        job.origin = origin
        job._status = JobStatus(status) if status else None
        job.timeout = parse_duration(timeout, "job_timeout")
        if job.timeout == 0:
            raise ValueError("job_timeout 0 is not allowed: use -1 for no timeout")
        job.result_ttl = parse_duration(result_ttl, "result_ttl")
        job.failure_ttl = parse_duration(failure_ttl, "failure_ttl")
        job.ttl = parse_duration(ttl, "ttl")
        if job.ttl is not None and job.ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        job.priority = validate_priority(priority)
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict, not {type(meta).__name__}")
        if meta:
            job._meta = dict(meta)
        if retry is not None:
            job.set_retry(retry)
        job.on_worker_lost = validate_on_worker_lost(on_worker_lost)
        dependencies.set_dependencies(job, depends_on)
        if unique is not False or unique_for is not None or unique_key is not None:
            configure(job, unique, unique_for, unique_key)
        limits.configure(job, limits.resolve(rate_limit, concurrency_limit, limit_key))
        return job

    def set_retry(self, retry: Retry) -> None:
        """Retry this job by ``retry`` (before it is enqueued)."""
        vars(self).update(retries.attributes(retry))

    @property
    def retry_policy(self) -> Retry | None:
        """The job's Retry as stored (one stored before backoff existed: its list), or None."""
        return retries.stored_policy({name: getattr(self, name) for name in retries.FIELDS})

    #: whether this process made the id up (then no other job can have it)
    fresh_id = False

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = os.urandom(16).hex()
            self.fresh_id = True
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

    def _load_data(self) -> None:
        if self._data_loaded:
            return
        if self._data_blob is None:
            raise DeserializationError(f"Job {self.id} has no stored call data")
        func_name, instance, args, kwargs, *stored = loads_signed(
            self.serializer, self._data_blob
        )
        self._func_name, self._instance = func_name, instance
        self._args, self._kwargs = tuple(args), dict(kwargs)
        self._callbacks = callbacks.from_stored(stored)
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

    def get_call_string(self) -> str:
        try:
            args = ", ".join([repr(a) for a in self.args] +
                             [f"{k}={v!r}" for k, v in self.kwargs.items()])
        except DeserializationError:
            args = "<unreadable>"
        return f"{self._func_name}({args})"

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
        steps.save_meta(self.connection, self.id, blob)

    def get_meta(self, refresh: bool = True) -> dict:
        if refresh:
            blob = self.connection.hget(self.key, "meta")
            self._meta, self._meta_blob = None, blob
        return self.meta

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

    def results(self) -> list[Result]:
        """Every kept execution outcome, newest first."""
        blobs = self.connection.lrange(keys.results(self.id), 0,
                                       results_kept(self.retry_max) - 1)
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

    def _dump(self, what: str, obj: Any) -> bytes:
        try:
            return dumps_signed(self.serializer, obj)
        except Exception as exc:
            raise SerializationError(f"Job {what} cannot be serialized: {exc}") from exc

    def data_blob(self) -> bytes:
        """The signed call payload; names the argument that cannot be serialized."""
        if self._data_blob is not None and self._data_loaded is False:
            return self._data_blob
        call = (self._func_name, self._instance, self._args, self._kwargs,
                *callbacks.to_stored(self._callbacks))
        try:
            self._data_blob = dumps_signed(self.serializer, call)
        except Exception as exc:
            raise SerializationError(explain_unserializable(self, exc)) from exc
        return self._data_blob

    #: the fields serialized by freeze(), sent by the next enqueue instead of new ones
    _frozen_fields: list[Any] | None = None

    def freeze(self) -> None:
        """Serialize the job now (bad arguments fail here) for an enqueue that happens later
        (the Django layer's at-commit enqueue): it sends these fields, so the call is
        serialized once, and later changes to the argument objects do not reach the job."""
        self._frozen_fields = None
        self._frozen_fields = self.stored_fields()
        settle_token(self, self.origin, fresh=True)  # a unique job's, from these arguments

    def stored_fields(self) -> list[Any]:
        """Field/value pairs written at enqueue (status, origin and times come from Redis)."""
        if self._frozen_fields is not None:
            return self._frozen_fields
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
            fields += retries.stored_fields(self)
        fields += dependencies.stored_fields(self)
        fields += limits.stored_fields(self)
        if self.group_id:
            fields += ["group", self.group_id]
        if self.serializer is not resolve_serializer(None):
            fields += ["serializer", serializer_path(self.serializer)]
        if self.on_worker_lost != "requeue":
            fields += ["on_worker_lost", self.on_worker_lost]
        return fields

    def save(self, pipeline: Any = None) -> None:
        """Write every field of the job (it joins no queue: enqueue does that)."""
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
        """Fill the job from its stored hash (strictly: a corrupt value raises
        DeserializationError); the call and meta are read lazily."""
        values = decode_job(fields)
        state = self.__dict__
        for attr in _STORED:
            state.pop(attr, None)
        for attr, value in job_attributes(values).items():
            if value is not None:  # an empty field reads as the default
                state[attr] = value
        if self.serializer_name:
            self.serializer = serializer_for(self.serializer_name)
        self._data_loaded = False
        self._meta = None

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

    def delete(self, pipeline: Any = None, remove_from_queue: bool = True,
               delete_dependents: bool = False) -> None:
        """Delete the job and every trace of it: queue or registry entry, results. (RQ's
        ``pipeline`` is not used: the delete is one atomic step of its own.)"""
        steps.delete(self.connection, [self.id])

    def cancel(self) -> None:
        """Queued, scheduled or deferred -> canceled registry."""
        cancel_job(self.connection, self.id)
        self._status = JobStatus.CANCELED

    def requeue(self, at_front: bool = False,
                allowed: Iterable[str] = MOVES["requeue"].sources) -> Job:
        """Put a failed job back on its origin queue (exc_info cleared, meta kept)."""
        requeue_jobs(self.connection, [self.id], at_front=at_front, allowed=allowed)
        self._status = JobStatus.QUEUED
        self.exc_info = None
        return self
