"""What a pool is asked to be: its size, its limits and its recycling, checked once."""

from __future__ import annotations

from dataclasses import dataclass

#: seconds a job may run past its timeout (or a stop request) before its child is killed
DEFAULT_GRACE = 10.0
#: a child's name is the pool's plus ".c<k>", a slot's the child's plus ".s<j>"
MAX_POOL_NAME = 180


@dataclass(frozen=True)
class PoolOptions:
    """``processes`` children, each running up to ``threads`` jobs at once.

    A job still running ``grace`` seconds after its timeout, or after a stop request, gets
    its child killed. A child leaves (warm) and is replaced after ``max_jobs_per_child`` jobs
    or once its resident memory passes ``max_memory_per_child`` MB (checked between jobs).
    """

    processes: int = 1
    threads: int = 1
    grace: float = DEFAULT_GRACE
    max_jobs_per_child: int | None = None
    max_memory_per_child: float | None = None
    #: restart the children when a .py file under these directories changes (development)
    reload_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value, least in (("processes", self.processes, 1),
                                   ("threads", self.threads, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{name} must be a whole number of at least {least}, "
                                 f"not {value!r}")
        if not isinstance(self.grace, int | float) or self.grace < 0:
            raise ValueError(f"grace must be a number of seconds >= 0, not {self.grace!r}")
        if self.max_jobs_per_child is not None and (
                not isinstance(self.max_jobs_per_child, int) or self.max_jobs_per_child < 1):
            raise ValueError("max_jobs_per_child must be a whole number of at least 1, not "
                             f"{self.max_jobs_per_child!r}")
        if self.max_memory_per_child is not None and (
                not isinstance(self.max_memory_per_child, int | float)
                or self.max_memory_per_child <= 0):
            raise ValueError("max_memory_per_child must be a number of MB above 0, not "
                             f"{self.max_memory_per_child!r}")
