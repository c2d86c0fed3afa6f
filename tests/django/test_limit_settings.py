"""Limits in the Django layer (issue 11): a queue's RATE_LIMIT / CONCURRENCY_LIMIT /
LIMIT_KEY is the default of its jobs (E031 when bad), and @job(rate_limit=...,
concurrency_limit=..., limit_key=...) reaches every enqueue, checked at decoration."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from django_jobqueue import Job, RateLimit, get_queue, job
from django_jobqueue.checks import check_settings
from django_jobqueue.integration import settings
from django_jobqueue.integration.limit_settings import parse_limit
from tests.django.conftest import jobqueue_settings


def test_a_queues_limit_is_the_default_of_its_jobs(redis_url):
    config = jobqueue_settings(redis_url)
    config["QUEUES"]["api"] = {"RATE_LIMIT": "10/s", "CONCURRENCY_LIMIT": 2}
    config["QUEUES"]["stripe"] = {"RATE_LIMIT": "100/m", "LIMIT_KEY": "stripe-api"}
    with override_settings(JOBQUEUE=config):
        assert settings.load().queues["api"].default_limit == RateLimit(
            key="queue/api", concurrency=2, rate="10/s")
        queue = get_queue("api")
        stored = Job.fetch(queue.enqueue("os.getpid").id, connection=queue.connection)
        assert (stored.limit_key, stored.limit_rate, stored.limit_concurrency) == (
            "queue/api", "10/1", 2)
        own = queue.enqueue("os.getpid", concurrency_limit=1, limit_key="mine")
        assert Job.fetch(own.id, connection=queue.connection).limit_key == "mine"
        shared = get_queue("stripe").enqueue("os.getpid")
        assert Job.fetch(shared.id, connection=queue.connection).limit_key == "stripe-api"
        assert get_queue("default").enqueue("os.getpid").limit_key is None


@pytest.mark.parametrize("given", [
    {"RATE_LIMIT": "lots"}, {"RATE_LIMIT": "0/s"}, {"CONCURRENCY_LIMIT": 0},
    {"CONCURRENCY_LIMIT": "2"}, {"LIMIT_KEY": "k"},
    {"RATE_LIMIT": "1/s", "LIMIT_KEY": "has space"},
])
def test_a_bad_limit_setting_is_e031_and_makes_its_queue_unusable(redis_url, given):
    config = jobqueue_settings(redis_url)
    config["QUEUES"]["api"] = given
    with override_settings(JOBQUEUE=config):
        assert "django_jobqueue.E031" in {e.id for e in check_settings(None)}
        with pytest.raises(ImproperlyConfigured, match="E031"):
            get_queue("api")
        assert get_queue("default").name == "default"


def test_the_limit_setting_parser_names_the_key():
    assert parse_limit({}, "q") == (None, None)
    limit, wrong = parse_limit({"RATE_LIMIT": "5/fortnight"}, "q")
    assert limit is None and wrong.startswith("RATE_LIMIT: ") and "unknown unit" in wrong


def test_limits_given_to_the_decorator_reach_every_enqueue(redis_url):
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url)):
        wrapped = job("default", rate_limit="5/m", limit_key="mail")(_noop)
        for enqueued in (wrapped.delay(), wrapped.enqueue()):
            stored = Job.fetch(enqueued.id, connection=enqueued.connection)
            assert (stored.limit_key, stored.limit_rate) == ("mail", "5/60")


@pytest.mark.parametrize("options", [{"rate_limit": "fast"}, {"concurrency_limit": -1},
                                     {"limit_key": "alone"}])
def test_a_bad_limit_is_an_error_at_decoration(options):
    with pytest.raises(ValueError):
        job("default", **options)


def _noop():
    return None
