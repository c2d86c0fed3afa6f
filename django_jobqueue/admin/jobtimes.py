"""The job page's "Waited" and "Ran" rows, set against the run times of the job's function
on its queue (the engine's cumulative histogram, engine/metrics.py: one more round trip)."""

from __future__ import annotations

from datetime import datetime

from ..engine.metrics import FunctionStats, read_counters
from ..engine.queue import Queue
from .data import JobDetail, Value

LABELS = ("Waited", "Ran", "Its function's run time")


def function_stats(queue: Queue, func_name: str | None) -> tuple[FunctionStats | None, str]:
    """The counters of ``func_name`` on ``queue`` (None when it has none), or why they
    cannot be read (a corrupt metrics key is shown as such, never a 500)."""
    if not func_name:
        return None, ""
    try:
        counters = read_counters(queue.connection, [queue.name])
    except Exception as exc:  # unreadable counters must not hide the job
        return None, f"cannot be read: {type(exc).__name__}: {exc}"[:300]
    return counters.get(queue.name, {}).get(func_name), ""


def timing_values(job: JobDetail, stats: FunctionStats | None, problem: str = "") -> list[Value]:
    """How long the job waited (enqueued -> started) and ran (started -> ended), each
    shown when both times are known and in that order (a job enqueued again since it last
    started has not waited yet), and its function's p50 and p95 run times."""
    enqueued, started, ended = (job.times.get(name)
                                for name in ("enqueued_at", "started_at", "ended_at"))
    p50 = stats.percentile(0.5) if stats is not None and stats.runs else None
    p95 = stats.percentile(0.95) if stats is not None and stats.runs else None
    values = []
    waited = _between(enqueued, started)
    if waited is not None:
        values.append(Value("Waited", duration(waited), note="from enqueued to started"))
    ran = _between(started, ended)
    if ran is not None:
        values.append(Value("Ran", duration(ran), note=_compared(ran, p50, p95)))
    where = f"{_cut(job.func_name or '?')} on {job.queue}"
    if problem:
        values.append(Value(LABELS[2], problem=problem))
    elif p50 is None or p95 is None:
        values.append(Value(LABELS[2], "no runs yet", note=where))
    else:
        values.append(Value(LABELS[2], f"p50 ≈ {duration(p50)}, p95 ≈ {duration(p95)}",
                            note=f"{stats.runs:,} run{'s' * (stats.runs != 1)} of {where}"))
    return values


def _cut(text: str, most: int = 100) -> str:
    return text if len(text) <= most else text[:most] + "…"


def _between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    try:
        seconds = (end - start).total_seconds()
    except (TypeError, OverflowError):  # an aware and a naive time, or out of range
        return None
    return seconds if seconds >= 0 else None


def _compared(seconds: float, p50: float | None, p95: float | None) -> str:
    if p50 is None or p95 is None:
        return ""
    if seconds > p95:
        return "longer than its function's p95"
    if seconds > p50:
        return "between its function's p50 and p95"
    return "at most its function's p50"


def duration(seconds: float) -> str:
    """850 ms, 2.4 s, 3 min 12 s, 2 h 5 min, 3 d 4 h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"
