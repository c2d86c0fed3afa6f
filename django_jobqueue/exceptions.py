"""``django_jobqueue.exceptions``: RQ's import path (``rq.exceptions``) for the engine's names."""

from .engine.exceptions import (
    DeserializationError,
    EnqueueError,
    EnqueueInterrupted,
    EnqueueRefused,
    GroupCompleted,
    InvalidJobId,
    InvalidJobOperation,
    InvalidQueueName,
    InvalidSignature,
    JobQueueError,
    JobStopRequested,
    JobTimeoutException,
    MissingDependency,
    NoRedisConnectionException,
    NoSuchGroupError,
    NoSuchJobError,
    SerializationError,
    ShutdownRequested,
    StopRequested,
)

__all__ = [
    "DeserializationError", "EnqueueError", "EnqueueInterrupted", "EnqueueRefused",
    "GroupCompleted", "InvalidJobId", "InvalidJobOperation", "InvalidQueueName",
    "InvalidSignature", "JobQueueError", "JobStopRequested", "JobTimeoutException",
    "MissingDependency", "NoRedisConnectionException", "NoSuchGroupError", "NoSuchJobError",
    "SerializationError", "ShutdownRequested", "StopRequested",
]
