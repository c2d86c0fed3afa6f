"""What the groups and limits pages share: the connections they are read from (by name, in
the URL), and job ids read from Redis shown with their status and, when the job is one of
a configured queue on that connection, a link to its page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from ..engine import keys
from ..integration import settings
from ..integration.clients import get_client
from .access import Links, page_context
from .data import NotFound, decode_text, valid_job_id

#: characters of a name read from Redis shown in a table (a page never carries megabytes)
NAME_SHOWN = 140


def connection_names() -> list[str]:
    """The connections holding the configured queues, in the order JOBQUEUE['QUEUES']
    names them (a connection no queue uses holds no job the pages could link to)."""
    return list(dict.fromkeys(q.connection for q in settings.load().queues.values()))


def client_or_404(name: str) -> Redis:
    """The client of connection ``name``: 404 when no queue uses it; a broken setting is
    answered as an unreachable Redis (503, saying why), never a 500."""
    if name not in connection_names():
        raise NotFound(f"No queue uses a connection named {name!r}.")
    try:
        return get_client(name)
    except Exception as exc:  # a broken connection setting (manage.py check says which)
        raise RedisConnectionError(f"connection {name!r} cannot be used: "
                                   f"{type(exc).__name__}: {exc}") from exc


def connections_index(request: HttpRequest, site: Any, title: str,
                      url_of: Any) -> HttpResponse:
    """One connection: its page. Several: a page linking to each."""
    names = connection_names()
    if len(names) == 1:
        return HttpResponseRedirect(url_of(names[0]))
    return TemplateResponse(request, "django_jobqueue/connections.html", page_context(
        request, site, title, connections=[(name, url_of(name)) for name in names]))


@dataclass
class JobRef:
    """A job id as a row of a page shows it."""

    id: str
    #: its page; None when it is no job id, gone, or of no queue configured on this connection
    url: str | None
    #: as stored; None when the job's hash is gone
    status: str | None
    queue: str
    problem: str = ""

    @property
    def shown_id(self) -> str:
        return self.id if len(self.id) <= NAME_SHOWN else self.id[:NAME_SHOWN] + "…"


def job_refs(client: Redis, connection: str, ids: Sequence[bytes | str],
             links: Links) -> list[JobRef]:
    """Status and queue of each job (one round trip for all of them); an id that is no job
    id is shown as stored, saying so."""
    texts = [decode_text(i) if isinstance(i, bytes) else i for i in ids]
    looked_up = [t for t in texts if valid_job_id(t)]
    pipe = client.pipeline(transaction=False)
    for job_id in looked_up:
        pipe.hmget(keys.job(job_id), ["status", "origin"])
    found = dict(zip(looked_up, pipe.execute(raise_on_error=False), strict=True))
    queues = settings.load().queues
    here = {name for name, q in queues.items() if q.connection == connection}
    refs = []
    for text in texts:
        reply = found.get(text)
        if reply is None:
            refs.append(JobRef(text, None, None, "", problem="not a job id"))
            continue
        if isinstance(reply, Exception):  # the job's key holds no hash
            refs.append(JobRef(text, None, None, "", problem="its record is not a hash"))
            continue
        status, origin = (decode_text(v) if v is not None else None for v in reply)
        url = links.job(origin, text) if origin in here else None
        refs.append(JobRef(text, url, status[:40] if status else None, (origin or "")[:NAME_SHOWN]))
    return refs
