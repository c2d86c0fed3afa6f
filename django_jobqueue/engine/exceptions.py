"""Exceptions raised by the job engine."""

from __future__ import annotations


class JobQueueError(Exception):
    """Base class of every error the engine raises on purpose."""


class NoSuchJobError(JobQueueError, KeyError):
    """A job id was looked up that Redis does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "No such job"


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
