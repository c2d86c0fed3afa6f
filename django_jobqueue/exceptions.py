"""``django_jobqueue.exceptions``: RQ's import path (``rq.exceptions``) for the engine's names."""

from .engine.exceptions import (
    DeserializationError,
    InvalidJobId,
    InvalidJobOperation,
    InvalidQueueName,
    InvalidSignature,
    JobQueueError,
    JobStopRequested,
    JobTimeoutException,
    NoRedisConnectionException,
    NoSuchJobError,
    SerializationError,
    ShutdownRequested,
    StopRequested,
)

__all__ = [
    "DeserializationError", "InvalidJobId", "InvalidJobOperation", "InvalidQueueName",
    "InvalidSignature", "JobQueueError", "JobStopRequested", "JobTimeoutException",
    "NoRedisConnectionException", "NoSuchJobError", "SerializationError", "ShutdownRequested",
    "StopRequested",
]
