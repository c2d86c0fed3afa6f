"""``django_jobqueue.command``: RQ's import path (``rq.command``) for stopping a running job."""

from .engine.moves import send_stop_job_command, stop_job

__all__ = ["send_stop_job_command", "stop_job"]
