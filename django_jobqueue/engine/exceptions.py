"""Exceptions raised by the job engine."""

from __future__ import annotations

from collections.abc import Iterable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class JobQueueError(Exception):
    """Base class of every error the engine raises on purpose."""


class NoSuchJobError(JobQueueError, KeyError):
    """A job id was looked up that Redis does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "No such job"


class NoSuchGroupError(JobQueueError, KeyError):
    """A group name was looked up (or enqueued into) that Redis does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "No such group"


class GroupCompleted(JobQueueError):
    """Jobs were enqueued into a group whose callbacks ran already (nothing was stored)."""


class InvalidJobOperation(JobQueueError):
    """An operation does not fit the job's current status (e.g. requeueing a finished job)."""


class InvalidJobId(JobQueueError, ValueError):
    """A job id outside ``[A-Za-z0-9_-]{1,128}``."""


class InvalidQueueName(JobQueueError, ValueError):
    """A queue name the engine cannot use as part of a Redis key."""


class NoRedisConnectionException(JobQueueError):
    """No connection was passed and none was pushed with ``push_connection``."""


class SerializationError(JobQueueError, ValueError):
    """Job data (arguments, meta or result) cannot be serialized."""


class DeserializationError(JobQueueError):
    """Stored job data cannot be read back: bad signature, corrupt bytes or a missing class."""


class InvalidSignature(DeserializationError):
    """A stored payload whose HMAC does not match: it is never deserialized."""


class EnqueueError(JobQueueError):
    """An enqueue that did not complete, saying which of its jobs are stored.

    ``job_ids``: every id the call tried to store; ``enqueued_ids``: those surely stored;
    ``not_enqueued_ids``: those surely not stored; ``unknown_ids``: those that may or may
    not be (look each up with ``Job.exists(id)`` once Redis answers again, and enqueue again
    with the same ``job_id`` only those that do not exist).
    """

    def __init__(self, message: str, job_ids: Iterable[str], enqueued_ids: Iterable[str] = (),
                 not_enqueued_ids: Iterable[str] = (), unknown_ids: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.job_ids = list(job_ids)
        self.enqueued_ids = list(enqueued_ids)
        self.not_enqueued_ids = list(not_enqueued_ids)
        self.unknown_ids = list(unknown_ids)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class EnqueueInterrupted(EnqueueError, RedisConnectionError, RedisTimeoutError):
    """The connection was lost (or timed out) during an enqueue: the request may have run
    with its reply lost. Caught by ``except redis.ConnectionError`` (and TimeoutError)."""


class EnqueueRefused(EnqueueError, ResponseError):
    """Redis answered a batch of an enqueue with an error (e.g. out of memory); that batch
    may be partly stored (its ids are in ``unknown_ids``)."""


class MissingDependency(EnqueueError, NoSuchJobError):
    """A job depends on a job that does not exist (never saved, deleted, or expired after it
    ran): its batch was not stored (``not_enqueued_ids``)."""


class JobTimeoutException(JobQueueError):
    """Raised inside a job that ran over its ``job_timeout``."""


class StopRequested(BaseException):
    """Raised into a running job to stop it at once (forced shutdown or an operator's stop).

    A BaseException so that a job's ``except Exception`` does not swallow it.
    """


class JobStopRequested(BaseException):
    """Raised into a running job an operator asked to stop; the job is recorded as stopped.

    A BaseException so that a job's ``except Exception`` does not swallow it.
    """


class ShutdownRequested(BaseException):
    """Raised into an idle worker's blocking wait to end it promptly."""
