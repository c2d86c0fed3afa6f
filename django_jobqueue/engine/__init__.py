"""The Redis job engine. It imports nothing from Django: the Django layer sits on top."""

from .calls import Callback
from .chains import Chain, chain
from .connections import (
    Connection,
    get_current_connection,
    pop_connection,
    push_connection,
    use_connection,
)
from .dependencies import Dependency
from .exceptions import (
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
    JobTimeoutException,
    MissingDependency,
    NoRedisConnectionException,
    NoSuchGroupError,
    NoSuchJobError,
    SerializationError,
)
from .execution import get_current_job
from .failed_queue import FailedQueue, get_failed_queue
from .groups import Group
from .job import Job
from .limits import RateLimit
from .periodic import PeriodicJob
from .queue import Queue
from .registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from .results import Result
from .retries import Retry, RetryLater
from .serializers import JSONSerializer, PickleSerializer, set_signing_key
from .states import JobStatus
from .worker import SimpleWorker, Worker, WorkerInfo, WorkerState

__all__ = [
    "Callback", "CanceledJobRegistry", "Chain", "Connection", "DeferredJobRegistry",
    "Dependency",
    "DeserializationError", "EnqueueError", "EnqueueInterrupted", "EnqueueRefused",
    "FailedJobRegistry", "FailedQueue", "FinishedJobRegistry", "Group", "GroupCompleted",
    "InvalidJobId",
    "InvalidJobOperation", "InvalidQueueName", "InvalidSignature", "JSONSerializer", "Job",
    "JobQueueError", "JobStatus", "JobTimeoutException", "MissingDependency",
    "NoRedisConnectionException", "NoSuchGroupError", "NoSuchJobError", "PeriodicJob",
    "PickleSerializer", "Queue", "RateLimit", "Result",
    "Retry", "RetryLater", "ScheduledJobRegistry", "SerializationError", "SimpleWorker",
    "StartedJobRegistry", "Worker", "WorkerInfo", "WorkerState", "get_current_connection",
    "chain", "get_current_job", "get_failed_queue", "pop_connection", "push_connection",
    "set_signing_key", "use_connection",
]
