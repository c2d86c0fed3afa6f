"""stats.json and the Prometheus metrics: who may read them (staff with the view permission,
or the bearer token), and what they say; the METRICS_TOKEN system check."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django.test.utils import override_settings

from django_jobqueue.checks import check_settings
from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import ADMIN, MOUNT, client_for, failed_job, finished_job, live_worker
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(60)

TOKEN = "t0ken-" + "x" * 26
ENDPOINTS = [f"{ADMIN}-/stats.json", f"{ADMIN}-/metrics", f"{MOUNT}-/stats.json",
             f"{MOUNT}-/metrics"]


@pytest.fixture
def with_token(redis_url):
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url, METRICS_TOKEN=TOKEN)):
        yield TOKEN


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("user", ["superuser", "viewer", "operator"])
def test_staff_with_the_view_permission_may_read(users, url, user):
    assert client_for(users[user]).get(url).status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
def test_the_bearer_token_opens_them(with_token, url):
    response = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {with_token}")
    assert response.status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("header", [
    None, "Bearer wrong-token-wrong-token-wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
    f"Basic {TOKEN}", "Bearer ", TOKEN,
])
def test_no_or_a_wrong_token_is_401(with_token, url, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client().get(url, **extra)
    assert response.status_code == 401
    assert "Bearer" in response["WWW-Authenticate"]
    assert b"jobqueue_jobs" not in response.content and b"queued" not in response.content


@pytest.mark.parametrize("url", ENDPOINTS)
def test_without_a_configured_token_a_bearer_header_is_401(url):
    response = Client().get(url, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401
    response = Client().get(url, HTTP_AUTHORIZATION="Bearer None")
    assert response.status_code == 401


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("user", ["staff", "outsider"])
def test_users_without_the_view_permission_get_401(users, url, user):
    assert client_for(users[user]).get(url).status_code == 401


# --------------------------------------------------------------------------- content


def _scenario(queue):
    """default: 2 queued (one waiting an hour), 1 failed, 2 finished; high: 1 queued."""
    from django_jobqueue import get_queue

    failed_job(queue)
    finished_job(queue)
    finished_job(queue)
    old = queue.enqueue(jobs.add, 1, 1)
    queue.connection.hset(keys.job(old.id), "enqueued_at", f"{time.time() - 3600:.6f}")
    queue.enqueue(jobs.add, 2, 2)
    get_queue("high").enqueue(jobs.add, 3, 3)


def test_stats_json_content(admin_client, queue):
    from django_jobqueue import get_queue

    _scenario(queue)
    low = get_queue("low")
    low.enqueue(jobs.add, 1, 1)
    low.enqueue(jobs.fail)
    with live_worker(low) as worker:
        wait_until(lambda: worker.successful_job_count == 1 and worker.failed_job_count == 1,
                   timeout=15)

        def read():
            body = admin_client.get(f"{ADMIN}-/stats.json").json()
            shown = [w for w in body["workers"] if w["name"] == worker.name]
            if shown and shown[0]["successful_job_count"] == 1 \
                    and shown[0]["failed_job_count"] == 1:
                return body
            return None

        body = wait_until(read, timeout=10, message="the worker's counts never showed")
    default = body["queues"]["default"]
    for state, n in {"queued": 2, "started": 0, "scheduled": 0, "deferred": 0, "finished": 2,
                     "failed": 1, "canceled": 0}.items():
        assert default[state] == n, state
    assert 3590 <= default["oldest_job_age"] <= 3700
    assert default["workers"] == 0
    assert body["queues"]["high"]["queued"] == 1
    assert body["queues"]["high"]["oldest_job_age"] < 600
    assert body["queues"]["low"]["workers"] == 1
    assert body["queues"]["low"]["finished"] == 1 and body["queues"]["low"]["failed"] == 1
    assert body["queues"]["low"]["queued"] == 0
    assert body["queues"]["low"]["oldest_job_age"] is None
    (shown,) = [w for w in body["workers"] if w["name"] == worker.name]
    assert shown["queues"] == ["low"]
    assert shown["successful_job_count"] == 1 and shown["failed_job_count"] == 1
    assert shown["pid"] and shown["hostname"] and shown["last_heartbeat"]
    assert body["errors"] == {}
    # a worker that left no longer counts
    body = admin_client.get(f"{ADMIN}-/stats.json").json()
    assert body["workers"] == [] and body["queues"]["low"]["workers"] == 0


def test_stats_json_is_never_cached(admin_client):
    response = admin_client.get(f"{ADMIN}-/stats.json")
    assert response["Content-Type"].startswith("application/json")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                  r',?)*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$')


def parse_prometheus(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of Prometheus' text format; fails on a line that is not one."""
    samples = {}
    types = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            assert parts[1] in ("HELP", "TYPE"), line
            if parts[1] == "TYPE":
                assert parts[3] in ("gauge", "counter", "histogram", "summary", "untyped")
                types[parts[2]] = parts[3]
            continue
        match = LINE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, labels = match.group(1), match.group(3) or ""
        # a histogram's samples are named after its family: <name>_bucket, _sum, _count
        family = name if name in types else re.sub(r"_(bucket|sum|count)$", "", name)
        assert family in types, f"{name} has no # TYPE"
        assert family == name or types[family] == "histogram", f"{name} is no {family}"
        pairs = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
        key = (name, pairs)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match.group(4))
    return samples


def sample(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def test_prometheus_content(queue, with_token):
    from django_jobqueue import get_queue

    _scenario(queue)
    low = get_queue("low")
    low.enqueue(jobs.add, 1, 1)
    low.enqueue(jobs.add, 1, 2)
    low.enqueue(jobs.fail)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {with_token}")
    with live_worker(low) as worker:
        wait_until(lambda: worker.successful_job_count == 2 and worker.failed_job_count == 1,
                   timeout=15)

        def read():
            response = client.get(f"{ADMIN}-/metrics")
            assert response.status_code == 200
            found = parse_prometheus(response.content.decode())
            key = ("jobqueue_worker_jobs_total",
                   frozenset({"worker": worker.name, "outcome": "succeeded"}.items()))
            return (response, found) if found.get(key) == 2 else None

        response, samples = wait_until(read, timeout=10)
    assert response["Content-Type"].startswith("text/plain")
    assert "version=0.0.4" in response["Content-Type"]
    assert sample(samples, "jobqueue_jobs", queue="default", state="queued") == 2
    assert sample(samples, "jobqueue_jobs", queue="default", state="failed") == 1
    assert sample(samples, "jobqueue_jobs", queue="default", state="finished") == 2
    assert sample(samples, "jobqueue_jobs", queue="default", state="started") == 0
    assert sample(samples, "jobqueue_jobs", queue="high", state="queued") == 1
    assert sample(samples, "jobqueue_jobs", queue="low", state="failed") == 1
    for name in ("default", "high", "low"):
        for state in ("queued", "started", "scheduled", "deferred", "finished", "failed",
                      "canceled"):
            sample(samples, "jobqueue_jobs", queue=name, state=state)
    assert 3590 <= sample(samples, "jobqueue_oldest_job_age_seconds", queue="default") <= 3700
    assert sample(samples, "jobqueue_oldest_job_age_seconds", queue="low") == 0
    assert sample(samples, "jobqueue_workers", queue="low") == 1
    assert sample(samples, "jobqueue_workers", queue="default") == 0
    assert sample(samples, "jobqueue_worker_jobs_total", worker=worker.name,
                  outcome="succeeded") == 2
    assert sample(samples, "jobqueue_worker_jobs_total", worker=worker.name,
                  outcome="failed") == 1
    assert sample(samples, "jobqueue_up", connection="default") == 1


def test_prometheus_labels_are_escaped(admin_client, queue):
    """A worker name with a quote, a backslash and a newline still gives valid lines."""
    from django_jobqueue.engine import scripts

    odd = 'we"ird\\name\nx'
    fields = ["name", odd, "hostname", "h", "pid", "1", "queues", "default", "birth",
              f"{time.time():.6f}", "state", "idle", "current_job", "",
              "successful_job_count", "4", "failed_job_count", "0"]
    scripts.get("heartbeat")(queue.connection, odd, 60, 60, "", "", "", *fields)
    body = admin_client.get(f"{ADMIN}-/metrics").content.decode()
    samples = parse_prometheus(body)
    escaped = odd.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    assert sample(samples, "jobqueue_worker_jobs_total", worker=escaped,
                  outcome="succeeded") == 4
    assert sample(samples, "jobqueue_workers", queue="default") == 1


# --------------------------------------------------------------------------- system check


def _check_ids(redis_url, **extra) -> list[str]:
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url, **extra)):
        return [error.id for error in check_settings()]


@pytest.mark.parametrize("token", ["short", "x" * 15, 12345678901234567890, b"x" * 32,
                                   ["x" * 32], ""])
def test_a_bad_metrics_token_is_reported_e014(redis_url, token):
    assert "django_jobqueue.E014" in _check_ids(redis_url, METRICS_TOKEN=token)


@pytest.mark.parametrize("token", ["x" * 16, "y" * 64, None])
def test_a_good_or_absent_metrics_token_passes(redis_url, token):
    assert "django_jobqueue.E014" not in _check_ids(redis_url, METRICS_TOKEN=token)


# --------------------------------------------------------------------------- limits, groups


def _limits_and_groups(queue):
    """"api": 1 start an hour, 2 enqueued and run (1 finished, 1 waits); "slots": 1 at once,
    2 on "high", one taken (it holds the slot), one waits; group "open" with 2 jobs on
    "low" not run, group "done" completed."""
    from django_jobqueue import Group, Queue, get_queue
    from django_jobqueue.engine import steps
    from tests.admin.helpers import work

    for n in range(2):
        queue.enqueue(jobs.add, n, n, rate_limit="1/h", limit_key="api")
    work(queue)
    for n in range(2):
        get_queue("high").enqueue(jobs.add, n, n, concurrency_limit=1, limit_key="slots")
    assert steps.take(queue.connection, steps.Take("w1", 60, ["high"])) is not None
    assert steps.take(queue.connection, steps.Take("w2", 60, ["high"])) is None  # waits
    opened = Group.create(connection=queue.connection, name="open")
    opened.enqueue_many(get_queue("low"), [Queue.prepare_data(jobs.add, args=(1, 1))] * 2)
    done = Group.create(connection=queue.connection, name="done")
    done.enqueue_many(queue, [Queue.prepare_data(jobs.add, args=(1, 1))])
    work(queue)
    assert done.is_completed and not opened.is_completed


def test_prometheus_limit_and_group_gauges(admin_client, queue):
    _limits_and_groups(queue)
    samples = parse_prometheus(admin_client.get(f"{ADMIN}-/metrics").content.decode())
    assert sample(samples, "jobqueue_limit_waiting", connection="default", limit="api") == 1
    assert sample(samples, "jobqueue_limit_running", connection="default", limit="api") == 0
    assert sample(samples, "jobqueue_limit_waiting", connection="default", limit="slots") == 1
    assert sample(samples, "jobqueue_limit_running", connection="default", limit="slots") == 1
    assert sample(samples, "jobqueue_groups_pending", connection="default") == 1
    assert sample(samples, "jobqueue_group_jobs_pending", connection="default") == 2


def test_stats_json_has_the_limits_and_groups(admin_client, queue):
    _limits_and_groups(queue)
    body = admin_client.get(f"{ADMIN}-/stats.json").json()
    assert body["limits"] == {"default": {"api": {"waiting": 1, "running": 0},
                                          "slots": {"waiting": 1, "running": 1}}}
    assert body["groups"] == {"default": {"pending": 1, "jobs_pending": 2}}


def test_no_limits_or_groups_give_zero_gauges(admin_client):
    samples = parse_prometheus(admin_client.get(f"{ADMIN}-/metrics").content.decode())
    assert sample(samples, "jobqueue_groups_pending", connection="default") == 0
    assert not [key for key in samples if key[0] == "jobqueue_limit_waiting"]


def test_limits_and_groups_cost_two_round_trips_per_connection(admin_client, queue,
                                                               count_round_trips):
    from django_jobqueue import Group
    from django_jobqueue.integration import clients

    _limits_and_groups(queue)
    for n in range(20):  # more keys and groups: still two
        queue.enqueue(jobs.add, 1, 1, concurrency_limit=1, limit_key=f"key-{n}")
        Group.create(connection=queue.connection, name=f"more-{n}")
    client = clients.get_client("default")
    admin_client.get(f"{ADMIN}-/metrics")  # warm up (scripts, connections)
    with count_round_trips(client) as counter:
        body = admin_client.get(f"{ADMIN}-/metrics").content.decode()
    assert "jobqueue_limit_waiting" in body
    assert counter.value == 1 + 2  # the queues' overview, then limits and groups


def test_corrupt_limit_and_group_records_count_zero_not_a_500(admin_client, queue):
    _limits_and_groups(queue)
    connection = queue.connection
    connection.set(keys.limit_waiting("api"), "not a zset")
    connection.set(keys.group("open"), "not a hash")
    connection.hset(keys.limits(), b"\xff\xfe", "1;")  # a key that is no UTF-8
    response = admin_client.get(f"{ADMIN}-/metrics")
    assert response.status_code == 200
    samples = parse_prometheus(response.content.decode())
    assert sample(samples, "jobqueue_limit_waiting", connection="default", limit="api") == 0
    assert sample(samples, "jobqueue_limit_waiting", connection="default",
                  limit="\ufffd\ufffd") == 0
    assert sample(samples, "jobqueue_groups_pending", connection="default") == 0
    connection.set(keys.limits(), "not a hash")
    connection.set(keys.groups(), "not a zset")
    assert admin_client.get(f"{ADMIN}-/stats.json").json()["limits"] == {"default": {}}
