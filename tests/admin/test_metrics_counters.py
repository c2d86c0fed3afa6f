"""The cumulative counters kept in Redis (issue 12) as /-/metrics and stats.json give them:
an exposition a strict reader accepts, values matching what the workers did, counters that
only grow across a worker restart (what Prometheus' rate() needs), a fixed number of round
trips however many queues, and corrupt metrics hashes that never make a 500."""

from __future__ import annotations

import math
import re
import signal
from dataclasses import dataclass, field

import pytest
from django.test.utils import override_settings

from django_jobqueue import Retry, get_queue
from django_jobqueue.engine import keys
from django_jobqueue.engine.metrics import BUCKETS, OUTCOMES
from django_jobqueue.integration import clients
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import ADMIN, running_job, work
from tests.django.test_runworker import finish, runworker
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(120)

ADD = "tests.admin.jobs.add"
FAIL = "tests.admin.jobs.fail"
SPIN = "tests.admin.jobs.spin"
COUNTER = "jobqueue_jobs_total"
HISTOGRAM = "jobqueue_job_duration_seconds"


# --------------------------------------------------------------------------- a strict reader

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? "
                    r"(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$")
HELP = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("",), "gauge": ("",)}


@dataclass
class Family:
    name: str
    kind: str = ""
    help: str = ""
    #: (sample name, labels, value), in the order written
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def value(self, suffix: str = "", **labels: str) -> float:
        (found,) = [v for name, have, v in self.samples
                    if name == self.name + suffix and have == labels]
        return found


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse_exposition(text: str) -> dict[str, Family]:
    """Prometheus' text format 0.0.4, strictly: HELP and TYPE once per family and before
    its samples, a family's samples together, each named after its family (a histogram's
    with _bucket, _sum or _count), no label twice, no sample twice, a newline at the end;
    every histogram cumulative, ending with le="+Inf" equal to its _count."""
    assert text.endswith("\n") and "\n\n" not in text
    families: dict[str, Family] = {}
    current: Family | None = None
    seen: set[tuple[str, tuple]] = set()
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            match = HELP.match(line) or TYPE.match(line)
            assert match, f"not a HELP or TYPE line: {line!r}"
            name, what = match.groups()
            family = families.setdefault(name, Family(name))
            assert not family.samples, f"{line!r} after the samples of {name}"
            if line.startswith("# HELP"):
                assert not family.help, f"a second HELP for {name}"
                family.help = what
            else:
                assert not family.kind, f"a second TYPE for {name}"
                family.kind = what
            current = family
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample: {line!r}"
        name, labels_text, value = match.group(1), match.group(2) or "", match.group(7)
        assert current is not None and current.kind, f"{name} has no # TYPE before it"
        assert name in (current.name + s for s in SUFFIXES[current.kind]), \
            f"{name} is no sample of {current.name} ({current.kind})"
        pairs = re.findall(LABEL, labels_text)
        labels = {key: _unescape(raw) for key, raw in pairs}
        assert len(labels) == len(pairs), f"a label twice: {line!r}"
        identity = (name, tuple(sorted(labels.items())))
        assert identity not in seen, f"a sample twice: {line!r}"
        seen.add(identity)
        current.samples.append((name, labels, float(value)))
    for family in families.values():
        assert family.kind and family.help, f"{family.name} lacks HELP or TYPE"
        if family.kind == "histogram":
            _check_histogram(family)
    return families


def _check_histogram(family: Family) -> None:
    series: dict[tuple, list[tuple[str, float]]] = {}
    for name, labels, value in family.samples:
        if name.endswith("_bucket"):
            where = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            series.setdefault(where, []).append((labels["le"], value))
    for where, buckets in series.items():
        bounds = [float(le) for le, _ in buckets]
        counts = [count for _, count in buckets]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), where
        assert buckets[-1][0] == "+Inf", where
        assert counts == sorted(counts), f"not cumulative: {where} {counts}"
        assert family.value("_count", **dict(where)) == counts[-1], where
        assert family.value("_sum", **dict(where)) >= 0, where


def scrape(client) -> dict[str, Family]:
    response = client.get(f"{ADMIN}-/metrics")
    assert response.status_code == 200
    return parse_exposition(response.content.decode())


def jobs_total(families: dict[str, Family], queue: str, func: str) -> dict[str, float]:
    return {outcome: families[COUNTER].value(queue=queue, function=func, outcome=outcome)
            for outcome in OUTCOMES}


# --------------------------------------------------------------------------- content


def _ran(queue):
    """default: add 3 times, fail twice (retried once, then for good), time.sleep once,
    spin stopped once; high: add once."""
    for n in range(3):
        queue.enqueue(jobs.add, n, n)
    queue.enqueue(jobs.fail, retry=Retry(max=1))
    queue.enqueue("time.sleep", 0.3)
    get_queue("high").enqueue(jobs.add, 1, 1)
    work(queue)
    work(get_queue("high"))
    from django_jobqueue.engine.moves import stop_job

    with running_job(queue) as (job, _):
        stop_job(queue.connection, job.id)
        wait_until(lambda: job.get_status() == "stopped", timeout=15)


def test_the_counters_parse_and_match_what_the_workers_did(admin_client, queue):
    _ran(queue)
    families = scrape(admin_client)
    assert families[COUNTER].kind == "counter" and families[HISTOGRAM].kind == "histogram"
    assert "restart" in families[COUNTER].help
    assert "restarts" in families["jobqueue_worker_jobs_total"].help  # it resets: says so
    assert jobs_total(families, "default", ADD) == {
        "finished": 3, "retried": 0, "failed": 0, "stopped": 0}
    assert jobs_total(families, "default", FAIL) == {
        "finished": 0, "retried": 1, "failed": 1, "stopped": 0}
    assert jobs_total(families, "default", SPIN)["stopped"] == 1
    assert jobs_total(families, "high", ADD)["finished"] == 1
    assert not [s for s in families[COUNTER].samples if s[1]["queue"] == "low"]
    durations = families[HISTOGRAM]
    assert durations.value("_count", queue="default", function=ADD) == 3
    assert durations.value("_count", queue="default", function=FAIL) == 2
    sleep = {"queue": "default", "function": "time.sleep"}
    assert 0.3 <= durations.value("_sum", **sleep) < 5
    # 0.3 s: in the (0.25, 0.5] bucket, every bound written as Prometheus writes floats
    assert durations.value("_bucket", le="0.25", **sleep) == 0
    assert durations.value("_bucket", le="0.5", **sleep) == 1
    les = [labels["le"] for name, labels, _ in durations.samples
           if name.endswith("_bucket") and labels == {**sleep, "le": labels["le"]}]
    assert les == [repr(float(b)) for b in BUCKETS] + ["+Inf"]
    assert "1.0" in les and "1800.0" in les
    # the gauges are still there
    assert families["jobqueue_jobs"].value(queue="default", state="failed") == 2  # + stopped
    assert families["jobqueue_up"].value(connection="default") == 1


def test_stats_json_totals(admin_client, queue):
    _ran(queue)
    totals = admin_client.get(f"{ADMIN}-/stats.json").json()["totals"]
    assert set(totals) == {"default", "high", "low"} and totals["low"] == {}
    add = totals["default"][ADD]
    assert {k: add[k] for k in (*OUTCOMES, "runs")} == {
        "finished": 3, "retried": 0, "failed": 0, "stopped": 0, "runs": 3}
    assert 0 <= add["p50"] <= add["p95"] and 0 < add["seconds"] < 5
    sleep = totals["default"]["time.sleep"]
    assert 0.25 <= sleep["p50"] <= sleep["p95"] <= 0.5
    assert 0.3 <= sleep["seconds"] < 5
    assert totals["default"][FAIL]["retried"] == 1 and totals["default"][FAIL]["runs"] == 2
    assert totals["high"][ADD]["finished"] == 1


def test_a_function_without_a_known_run_time_has_no_percentiles(admin_client, queue):
    queue.connection.hset(keys.metrics("default"), f"{ADD}|failed", 2)
    totals = admin_client.get(f"{ADMIN}-/stats.json").json()["totals"]
    assert totals["default"][ADD] == {"finished": 0, "retried": 0, "failed": 2,
                                      "stopped": 0, "runs": 0, "seconds": 0.0,
                                      "p50": None, "p95": None}
    families = scrape(admin_client)
    assert families[HISTOGRAM].value("_count", queue="default", function=ADD) == 0
    assert families[HISTOGRAM].value("_bucket", queue="default", function=ADD,
                                     le="+Inf") == 0


# --------------------------------------------------------------------------- a worker restart


def _wait_ended(enqueued, timeout=60):
    wait_until(lambda: all(job.get_status() in ("finished", "failed") for job in enqueued),
               timeout=timeout, message="the worker never ran every job")


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 0, err


def test_rate_over_the_counters_is_right_across_a_worker_restart(admin_client, queue,
                                                                  redis_url):
    """Two worker processes one after the other (SIGTERM, then a new one): every counter
    of the queue only grows, and what it grew by is what the second worker ran; the
    per-worker counter starts again from 0, which is why rates use jobqueue_jobs_total."""
    first_jobs = [queue.enqueue(jobs.add, n, n) for n in range(3)] + [queue.enqueue(jobs.fail)]
    first = runworker(redis_url, "default", "--name", "first", "--worker-ttl", "2")
    try:
        _wait_ended(first_jobs)
        before = scrape(admin_client)
        _stop(first)
    finally:
        if first.poll() is None:
            first.kill()
    stopped = scrape(admin_client)  # no worker now: the counters stay
    second_jobs = [queue.enqueue(jobs.add, n, n) for n in range(2)] + [queue.enqueue(jobs.fail)]
    second = runworker(redis_url, "default", "--name", "second", "--worker-ttl", "2",
                       "--processes", "0")
    try:
        _wait_ended(second_jobs)

        def counted_by_the_second():
            found = scrape(admin_client)
            return found if _worker_count(found, "second") == 2 else None

        after = wait_until(counted_by_the_second, timeout=15,
                           message="the second worker's own counts never showed")
        _stop(second)
    finally:
        if second.poll() is None:
            second.kill()
    assert jobs_total(before, "default", ADD)["finished"] == 3
    assert jobs_total(before, "default", FAIL)["failed"] == 1
    assert _queue_series(stopped, "default") == _queue_series(before, "default")
    grew = {key: after_value - _queue_series(before, "default").get(key, 0)
            for key, after_value in _queue_series(after, "default").items()}
    assert min(grew.values()) >= 0, "a counter went down: rate() would see a reset"
    assert grew[(COUNTER, ADD, "finished")] == 2 and grew[(COUNTER, FAIL, "failed")] == 1
    assert grew[(COUNTER, ADD, "retried")] == grew[(COUNTER, FAIL, "finished")] == 0
    assert grew[(HISTOGRAM + "_count", ADD, "")] == 2
    assert grew[(HISTOGRAM + "_count", FAIL, "")] == 1
    assert _worker_count(after, "second") < jobs_total(after, "default", ADD)["finished"]


def _queue_series(families: dict[str, Family], queue: str) -> dict[tuple, float]:
    """(sample name, function, outcome or le) -> value, for every counter sample of a queue."""
    out = {}
    for family in (families[COUNTER], families[HISTOGRAM]):
        for name, labels, value in family.samples:
            if labels["queue"] == queue:
                out[(name, labels["function"], labels.get("outcome") or labels.get("le", ""))] \
                    = value
    return out


def _worker_count(families: dict[str, Family], worker: str) -> float | None:
    try:
        return families["jobqueue_worker_jobs_total"].value(worker=worker, outcome="succeeded")
    except ValueError:  # not there (yet)
        return None


# --------------------------------------------------------------------------- round trips


def _round_trips(admin_client, redis_url, count_round_trips, queue_count):
    """Round trips of /-/metrics and of stats.json with ``queue_count`` queues on the one
    connection, each having run a job; checks that every queue's counters are there."""
    names = [f"of{queue_count}-{n}" for n in range(queue_count)]  # new ones each call
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url,
                                                      QUEUES=dict.fromkeys(names, {}))):
        clients.reset()
        for name in names:
            get_queue(name).enqueue(jobs.add, 1, 1)
            work(get_queue(name))
        client = clients.get_client("default")
        admin_client.get(f"{ADMIN}-/metrics")  # warm up (scripts, connections)
        with count_round_trips(client) as on_metrics:
            families = scrape(admin_client)
        with count_round_trips(client) as on_stats:
            totals = admin_client.get(f"{ADMIN}-/stats.json").json()["totals"]
    clients.reset()
    assert all(jobs_total(families, name, ADD)["finished"] == 1 for name in names)
    assert all(totals[name][ADD]["finished"] == 1 for name in names)
    return on_metrics.value, on_stats.value


def test_metrics_cost_the_same_round_trips_with_1_or_20_queues(admin_client, redis_url,
                                                               count_round_trips):
    one = _round_trips(admin_client, redis_url, count_round_trips, 1)
    twenty = _round_trips(admin_client, redis_url, count_round_trips, 20)
    # the queues' overview, then the names of limits and groups with the counters (no
    # limit or group here: the pipeline counting them is empty, so it is not sent)
    assert one == twenty == (2, 2)


def test_queues_on_two_connections_are_read_each_on_its_own(admin_client, redis_url,
                                                             count_round_trips):
    settings = jobqueue_settings(redis_url, QUEUES={"a": {}, "b": {"CONNECTION": "other"}})
    settings["CONNECTIONS"]["other"] = {"URL": redis_url.rsplit("/", 1)[0] + "/1"}
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        for name, times in (("a", 1), ("b", 2)):
            for _ in range(times):
                get_queue(name).enqueue(jobs.add, 1, 1)
            work(get_queue(name))
        families = scrape(admin_client)
        other = clients.get_client("other")
        with count_round_trips(other) as on_other:
            scrape(admin_client)
    clients.reset()
    assert jobs_total(families, "a", ADD)["finished"] == 1
    assert jobs_total(families, "b", ADD)["finished"] == 2
    assert on_other.value == 2  # as above: overview, then names and counters


def test_an_unreachable_connection_leaves_the_other_counters(admin_client, redis_url):
    from tests.harness import free_port

    settings = jobqueue_settings(redis_url, QUEUES={"a": {}, "gone": {"CONNECTION": "down"}})
    settings["CONNECTIONS"]["down"] = {"URL": f"redis://127.0.0.1:{free_port()}/0"}
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        get_queue("a").enqueue(jobs.add, 1, 1)
        work(get_queue("a"))
        families = scrape(admin_client)
        totals = admin_client.get(f"{ADMIN}-/stats.json").json()["totals"]
    clients.reset()
    assert jobs_total(families, "a", ADD)["finished"] == 1
    assert not [s for s in families[COUNTER].samples if s[1]["queue"] == "gone"]
    assert families["jobqueue_up"].value(connection="down") == 0
    assert totals["gone"] is None and totals["a"][ADD]["finished"] == 1


# --------------------------------------------------------------------------- corrupt hashes


def test_a_metrics_key_of_the_wrong_type_is_no_500(admin_client, queue):
    queue.connection.set(keys.metrics("default"), "not a hash")
    queue.connection.rpush(keys.metrics("high"), "a list")
    families = scrape(admin_client)
    assert not families[COUNTER].samples and not families[HISTOGRAM].samples
    totals = admin_client.get(f"{ADMIN}-/stats.json").json()["totals"]
    assert totals == {"default": {}, "high": {}, "low": {}}


def test_corrupt_counter_values_still_give_a_valid_exposition(admin_client, queue):
    odd = 'we"ird\\func\nname'
    queue.connection.hset(keys.metrics("default"), mapping={
        f"{ADD}|finished": "lots", f"{ADD}|failed": -4, f"{ADD}|b1": 3, f"{ADD}|b2": -7,
        f"{ADD}|b3": "1.5", f"{ADD}|b99": 5, f"{ADD}|us": "x", f"{odd}|finished": 2,
        f"{odd}|b16": 1, f"{odd}|us": 10**14, b"\xff\xfe|retried": 1, "bare": 1,
    })
    families = scrape(admin_client)
    assert jobs_total(families, "default", ADD) == {
        "finished": 0, "retried": 0, "failed": 0, "stopped": 0}
    durations = families[HISTOGRAM]
    assert durations.value("_count", queue="default", function=ADD) == 3
    assert durations.value("_sum", queue="default", function=ADD) == 0
    assert jobs_total(families, "default", odd)["finished"] == 2  # escaped, read back
    assert durations.value("_bucket", queue="default", function=odd, le="1800.0") == 0
    assert durations.value("_bucket", queue="default", function=odd, le="+Inf") == 1
    assert math.isclose(durations.value("_sum", queue="default", function=odd), 1e8)
    assert jobs_total(families, "default", "\ufffd\ufffd")["retried"] == 1
    body = admin_client.get(f"{ADMIN}-/stats.json")
    assert body.status_code == 200
    add = body.json()["totals"]["default"][ADD]
    assert add["failed"] == 0 and add["runs"] == 3 and add["p95"] <= BUCKETS[0]
