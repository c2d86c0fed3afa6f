"""Small charts as inline SVG, drawn on the server: no JavaScript, nothing inline for a
Content-Security-Policy to refuse (no ``style`` attributes: colours come from classes in
pages.css, which use the admin's CSS variables, so the dark theme works too).

A chart is a row of buckets (``Bucket``: its start in epoch seconds and a count, or None
when nothing was measured then). Bars suit counts per bucket (finished, failed), a line
suits a level sampled each bucket (queue depth). Each bucket carries a tooltip (``<title>``)
and ``data-start``/``data-value`` attributes; the y axis is labelled 0 and the maximum, the x
axis with local times at the ``ticks`` given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: the drawing's own units (it scales to the width CSS gives it)
WIDTH, HEIGHT = 300, 140
LEFT, RIGHT, TOP, BOTTOM = 34, 6, 10, 20
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BASELINE = TOP + PLOT_HEIGHT
#: half a time label's width: a tick nearer an end of the axis is not labelled
TICK_ROOM = 16


@dataclass(frozen=True)
class Bucket:
    start: int
    value: int | None


@dataclass(frozen=True)
class Axis:
    """How the buckets are labelled: ``clock(start)`` names a time, ``span(start)`` a bucket
    in its tooltip; ticks at these bucket starts."""

    clock: Callable[[int], str]
    span: Callable[[int], str]
    ticks: Sequence[int]


def local_clock(epoch: int) -> str:
    """HH:MM in the current time zone."""
    when = timezone.localtime(datetime.fromtimestamp(epoch, dt_timezone.utc))
    return f"{when.hour:02d}:{when.minute:02d}"


def short_number(value: float) -> str:
    """1234 -> 1,234; 12345 -> 12.3k; 1234567 -> 1.2M (an axis label has little room)."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    return f"{value:,.0f}"


def bar_chart(buckets: Sequence[Bucket], axis: Axis, label: str, unit: str,
              empty: str, kind: str = "bars") -> SafeString:
    """Bars of counts (a bucket with None or 0 has none); ``kind`` names the colour class."""
    peak = max((b.value or 0 for b in buckets), default=0)
    parts = _frame(buckets, axis, peak, label)
    width = PLOT_WIDTH / max(len(buckets), 1)
    gap = 1.0 if width > 3 else 0.0
    for n, bucket in enumerate(buckets):
        x = LEFT + n * width
        tip = f"{axis.span(bucket.start)}: {_count(bucket.value, unit)}"
        bar = ""
        if bucket.value and peak:
            height = max(PLOT_HEIGHT * bucket.value / peak, 1.0)
            bar = (f'<rect class="bar {kind}" x="{_n(x + gap / 2)}" '
                   f'y="{_n(BASELINE - height)}" width="{_n(width - gap)}" '
                   f'height="{_n(height)}"/>')
        parts.append(_bucket(bucket, x, width, tip, bar))
    return _close(parts, empty if not peak else "")


def line_chart(buckets: Sequence[Bucket], axis: Axis, label: str, unit: str,
               empty: str, kind: str = "line") -> SafeString:
    """A line through the measured buckets, broken where one was not measured (None); a
    measured bucket standing alone is a dot."""
    peak = max((b.value for b in buckets if b.value is not None), default=0)
    measured = any(b.value is not None for b in buckets)
    parts = _frame(buckets, axis, peak, label)
    width = PLOT_WIDTH / max(len(buckets), 1)
    runs: list[list[tuple[float, float]]] = [[]]
    for n, bucket in enumerate(buckets):
        x = LEFT + n * width
        if bucket.value is None:
            tip = f"{axis.span(bucket.start)}: not sampled"
            if runs[-1]:
                runs.append([])
        else:
            tip = f"{axis.span(bucket.start)}: {_count(bucket.value, unit)}"
            y = BASELINE - (PLOT_HEIGHT * bucket.value / peak if peak else 0)
            runs[-1].append((x + width / 2, y))
        parts.append(_bucket(bucket, x, width, tip, ""))
    for run in runs:
        if len(run) == 1:
            parts.append(f'<circle class="dot {kind}" cx="{_n(run[0][0])}" '
                         f'cy="{_n(run[0][1])}" r="2"/>')
        elif run:
            points = " ".join(f"{_n(x)},{_n(y)}" for x, y in run)
            parts.append(f'<polyline class="{kind}" points="{points}"/>')
    return _close(parts, empty if not measured else "")


def _frame(buckets: Sequence[Bucket], axis: Axis, peak: int, label: str) -> list[str]:
    """The opening tag, the maximum's grid line, the y labels and the time ticks."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="jobqueue-svg" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
             f'data-max="{peak}" data-buckets="{len(buckets)}">',
             f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}"/>',
             f'<text class="label zero" x="{LEFT - 4}" y="{BASELINE}" '
             f'text-anchor="end">0</text>']
    if peak:  # the top of the scale: the maximum
        parts.append(f'<text class="label max" x="{LEFT - 4}" y="{TOP + 4}" '
                     f'text-anchor="end">{short_number(peak)}</text>')
    width = PLOT_WIDTH / max(len(buckets), 1)
    first = buckets[0].start if buckets else 0
    step = buckets[1].start - first if len(buckets) > 1 else 60
    for tick in axis.ticks:
        x = LEFT + (tick - first) / step * width
        if not LEFT + TICK_ROOM <= x <= WIDTH - RIGHT - TICK_ROOM:  # its label would not fit
            continue
        parts.append(f'<line class="tick" x1="{_n(x)}" y1="{BASELINE}" x2="{_n(x)}" '
                     f'y2="{BASELINE + 3}"/>'
                     f'<text class="label time" x="{_n(x)}" y="{HEIGHT - 4}" '
                     f'text-anchor="middle" data-tick="{tick}">{escape(axis.clock(tick))}'
                     '</text>')
    return parts


def _bucket(bucket: Bucket, x: float, width: float, tip: str, mark: str) -> str:
    """A bucket's group: a hover area the plot's height (its tooltip) and its mark."""
    value = "" if bucket.value is None else bucket.value
    return (f'<g class="bucket" data-start="{bucket.start}" data-value="{value}">'
            f'<title>{escape(tip)}</title>'
            f'<rect class="hit" x="{_n(x)}" y="{TOP}" width="{_n(width)}" '
            f'height="{PLOT_HEIGHT}"/>{mark}</g>')


def _close(parts: list[str], empty: str) -> SafeString:
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{BASELINE}" x2="{WIDTH - RIGHT}" '
                 f'y2="{BASELINE}"/>')
    if empty:
        parts.append(f'<text class="label empty" x="{LEFT + PLOT_WIDTH / 2}" '
                     f'y="{TOP + PLOT_HEIGHT / 2}" text-anchor="middle">{escape(empty)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _count(value: int | None, unit: str) -> str:
    return f"{value or 0:,} {unit}"


def _n(number: float) -> str:
    """A coordinate, short: 12.0 -> 12, 12.3456 -> 12.35."""
    return f"{number:.2f}".rstrip("0").rstrip(".")
