"""The preview of a traceback on the job page (the whole of it is a click away): the job's
own frame first, then the error, each cut at a line boundary. The engine's frames above the
job's (perform, the death penalty, asyncio's loop) say nothing about what went wrong."""

from __future__ import annotations

import re

#: characters of a preview, about (a long line of the job's frame is cut at LINE)
PREVIEW = 600
LINE = 200
#: lines of the error (or of a text that is no traceback) a preview keeps, at most
LINES = 8
HEADER = "Traceback (most recent call last):"
FRAME = '  File "'
#: frames that are not the job's own: the engine's, and the standard library's
NOT_OWN = re.compile(r'[/\\]django_jobqueue[/\\]engine[/\\]'
                     r'|[/\\]lib[/\\]python\d+(\.\d+)?[/\\](?!site-packages|dist-packages)')


def preview(text: str, limit: int = PREVIEW) -> str:
    """The job's own frame of the last traceback in ``text`` and the error that ended it;
    without such a frame, the last lines that fit."""
    lines = text.rstrip().splitlines()
    starts = [n for n, line in enumerate(lines) if line.rstrip() == HEADER]
    frames = [n for n in range(starts[-1] + 1 if starts else 0, len(lines))
              if lines[n].startswith(FRAME)]
    if not starts or not frames:
        return last_lines(lines, limit)
    error_at = next((n for n in range(frames[-1] + 1, len(lines))
                     if not lines[n].startswith(" ")), len(lines))
    own = next((n for n in frames if not NOT_OWN.search(lines[n])), None)
    if own is None:
        return last_lines(lines, limit)
    own_end = next((n for n in frames if n > own), error_at)
    frame = [_cut(line) for line in lines[own:own_end]]
    if own_end < error_at:
        frame.append("  …")
    budget = max(limit - sum(len(line) + 1 for line in frame), limit // 3)
    return "\n".join([*frame, last_lines(lines[error_at:], budget, keep_first=True)])


def last_lines(lines: list[str], limit: int, keep_first: bool = False) -> str:
    """The last whole lines (at most LINES) that fit in ``limit`` characters, after "…"
    when some are left out (``keep_first``: and after the first line, an exception's type
    and message). A last line longer than the limit keeps its end."""
    if len(lines) <= LINES and sum(len(line) + 1 for line in lines) <= limit:
        return "\n".join(lines)
    head = [_cut(lines[0]), "…"] if keep_first and len(lines) > 1 else ["…"]
    room = limit - sum(len(line) + 1 for line in head)
    kept: list[str] = []
    for line in reversed(lines[len(head) - 1:]):
        if len(line) + 1 > room or len(kept) + len(head) >= LINES:
            break
        kept.insert(0, line)
        room -= len(line) + 1
    if not kept:  # one line longer than the room: its end, where the message ends
        kept = [lines[-1][-max(room, LINE):]]
    return "\n".join([*head, *kept])


def _cut(line: str) -> str:
    return line if len(line) <= LINE else line[:LINE] + "…"
