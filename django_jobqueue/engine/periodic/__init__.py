"""Periodic jobs: cron or every-N-seconds schedules, run by the workers themselves."""

from .clock import CronUnavailable
from .runner import Fired, PeriodicRunner
from .spec import PeriodicJob

__all__ = ["CronUnavailable", "Fired", "PeriodicJob", "PeriodicRunner"]
