"""Bad input never gives a 500: unknown names are the admin-styled 404, bad page numbers
become the nearest valid page, unreadable jobs still show every other field (and say what
is wrong), and a Redis that is down gives a 503 page.

The test client re-raises a view's exception, so a 500 fails these tests with its
traceback."""

from __future__ import annotations

import sys
import types

import pytest
from django.contrib.admin.models import LogEntry
from django.test.utils import override_settings

from django_jobqueue import Queue, get_queue
from django_jobqueue.engine import keys
from django_jobqueue.integration import clients
from tests.admin import jobs
from tests.admin.conftest import jobqueue_settings
from tests.admin.helpers import (
    ADMIN,
    CONFIRM,
    MOUNT,
    WORKERS,
    client_for,
    failed_job,
    finished_job,
    listed_ids,
    messages_of,
    parse,
    work,
)

pytestmark = pytest.mark.timeout(60)

MISSING_ID = "0123456789abcdef0123456789abcdef"


def assert_admin_404(response) -> None:
    assert response.status_code == 404
    doc = parse(response)
    assert doc.find("p", id="jobqueue-not-found") is not None, response.content[:500]
    # the admin's own page: its header and breadcrumbs, not Django's bare 404
    assert doc.find(id="site-name") is not None
    assert doc.find(class_="breadcrumbs") is not None  # a div (Django 5.2) or a list (6)


# --------------------------------------------------------------------------- 404


@pytest.mark.parametrize("url", [
    f"{ADMIN}nosuch/", f"{ADMIN}nosuch/failed/", f"{ADMIN}nosuch/job/{MISSING_ID}/",
    f"{ADMIN}nosuch/-/empty/", f"{MOUNT}nosuch/", f"{MOUNT}nosuch/job/{MISSING_ID}/",
    f"{ADMIN}default/job/{MISSING_ID}/", f"{MOUNT}default/job/{MISSING_ID}/",
    f"{ADMIN}default/exploded/", f"{ADMIN}default/-/", f"{ADMIN}default/STARTED/",
    f"{ADMIN}default/-/explode/", f"{ADMIN}default/-/requeue/",
])
def test_unknown_names_are_the_admin_404(admin_client, url):
    assert_admin_404(admin_client.get(url))


@pytest.mark.parametrize("job_id", [
    "abc$def", "..", "<script>alert(1)</script>", "x" * 5000, "jöb", "a b", "%00",
    "job:1", "*", "' or 1=1 --",
])
def test_invalid_job_ids_are_404(admin_client, queue, job_id):
    from urllib.parse import quote

    quoted = quote(job_id, safe="")
    response = admin_client.get(f"{ADMIN}default/job/{quoted}/")
    assert_admin_404(response)
    assert "<script>alert(1)</script>" not in response.content.decode()
    response = admin_client.post(f"{ADMIN}default/job/{quoted}/delete/")
    assert response.status_code == 404
    response = admin_client.get(f"{ADMIN}default/", {"q": job_id})
    assert response.status_code == 200
    assert listed_ids(response) == []


def test_a_job_of_another_queue_is_404_under_this_one(admin_client):
    other = get_queue("high").enqueue(jobs.add, 1, 1)
    assert_admin_404(admin_client.get(f"{ADMIN}default/job/{other.id}/"))
    for action in ("requeue", "cancel", "delete", "stop"):
        assert admin_client.post(f"{ADMIN}default/job/{other.id}/{action}/").status_code == 404
    assert get_queue("high").connection.hget(keys.job(other.id), "status") == b"queued"
    assert admin_client.get(f"{ADMIN}high/job/{other.id}/").status_code == 200
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize(("make", "action"), [
    (lambda q: q.enqueue(jobs.add, 1, 1), "cancel"),
    (lambda q: q.enqueue(jobs.add, 1, 1), "delete"),
    (failed_job, "requeue"),
])
def test_a_bulk_action_never_touches_a_job_of_another_queue(admin_client, make, action):
    high = get_queue("high")
    other = make(high)
    before = high.connection.hgetall(keys.job(other.id))
    response = admin_client.post(f"{ADMIN}default/failed/",
                                 {"action": action, "_selected_job": [other.id]}, follow=True)
    assert response.status_code == 200
    assert high.connection.hgetall(keys.job(other.id)) == before
    assert LogEntry.objects.count() == 0
    assert messages_of(response) == [
        f"1 job not {ACTION_DONE[action]}: 1 belongs to another queue."]


ACTION_DONE = {"cancel": "canceled", "delete": "deleted", "requeue": "requeued"}


@pytest.mark.parametrize("action", ["explode", "REQUEUE", "requeue-failed", "empty", "-"])
def test_an_unknown_job_action_is_404_and_changes_nothing(admin_client, queue, action):
    job = failed_job(queue)
    assert admin_client.post(f"{ADMIN}default/job/{job.id}/{action}/").status_code == 404
    assert admin_client.get(f"{ADMIN}default/job/{job.id}/{action}/").status_code == 404
    assert queue.connection.hget(keys.job(job.id), "status") == b"failed"
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("action", ["explode", "requeue", "delete", "empty-all"])
def test_an_unknown_queue_action_is_404_and_changes_nothing(admin_client, queue, action):
    queue.enqueue(jobs.add, 1, 1)
    assert_admin_404(admin_client.get(f"{ADMIN}default/-/{action}/"))
    assert admin_client.post(f"{ADMIN}default/-/{action}/", CONFIRM).status_code == 404
    assert queue.count == 1


def test_actions_on_a_missing_job_are_404(admin_client, queue):
    for action in ("requeue", "cancel", "stop", "delete"):
        response = admin_client.post(f"{ADMIN}default/job/{MISSING_ID}/{action}/")
        assert response.status_code == 404
    assert LogEntry.objects.count() == 0


# --------------------------------------------------------------------------- page numbers


@pytest.fixture
def sixty(queue):
    return [j.id for j in queue.enqueue_many([Queue.prepare_data(jobs.add, (i, i))
                                              for i in range(60)])]


def _page(response) -> tuple[int, int, list[str]]:
    doc = parse(response)
    per_page = int(doc.one("select", id="jobqueue-per-page").one("option", selected=True)
                   .get("value"))
    current = doc.one("p", class_="paginator").find("span", class_="this-page")
    return per_page, int(current.clean_text) if current else 1, listed_ids(response)


@pytest.mark.parametrize(("params", "per_page", "page", "first"), [
    ({"page": "99999"}, 25, 3, 50),
    ({"page": "abc"}, 25, 1, 0),
    ({"page": ""}, 25, 1, 0),
    ({"page": "0"}, 25, 1, 0),
    ({"page": "-4"}, 25, 1, 0),
    ({"page": "2.4"}, 25, 2, 25),
    ({"page": "1e400"}, 25, 1, 0),
    ({"page": "9" * 400}, 25, 3, 50),
    ({"page": "nan"}, 25, 1, 0),
    ({"page": "inf"}, 25, 1, 0),
    ({"per_page": "7"}, 10, 1, 0),
    ({"per_page": "100000"}, 500, 1, 0),
    ({"per_page": "abc"}, 25, 1, 0),
    ({"per_page": "0"}, 10, 1, 0),
    ({"per_page": "-50"}, 10, 1, 0),
    ({"per_page": "30"}, 25, 1, 0),
    ({"per_page": "9" * 400}, 500, 1, 0),
    ({"per_page": "7", "page": "99999"}, 10, 6, 50),
    ({"order": "sideways"}, 25, 1, 0),
    ({"start": "abc"}, 25, 1, 0),
])
def test_bad_page_parameters_give_the_nearest_valid_page(admin_client, sixty, params,
                                                         per_page, page, first):
    response = admin_client.get(f"{ADMIN}default/", params)
    assert response.status_code == 200
    shown_per_page, shown_page, ids = _page(response)
    assert shown_per_page == per_page
    assert shown_page == page
    assert ids == sixty[first:first + per_page]


def test_the_last_page_of_an_empty_tab(admin_client, queue):
    response = admin_client.get(f"{ADMIN}default/failed/", {"page": "99999"})
    assert response.status_code == 200
    assert listed_ids(response) == []


@pytest.mark.parametrize("needle", ["%", "[", "(", ".*", "%s%d", "\\", "'", '"', "\x00",
                                    "x" * 5000, " ", "é", "<script>"])
def test_odd_searches(admin_client, sixty, needle):
    response = admin_client.get(f"{ADMIN}default/", {"q": needle, "start": "-3"})
    assert response.status_code == 200
    if needle == "<script>":
        note = response.content.decode().split('id="jobqueue-search-note"')[1][:600]
        assert "<script>" not in note and "&lt;script&gt;" in note


def test_search_beyond_the_end(admin_client, sixty):
    response = admin_client.get(f"{ADMIN}default/", {"q": "add", "start": "100000"})
    assert response.status_code == 200
    assert listed_ids(response) == []


# --------------------------------------------------------------------------- unreadable jobs


def _field(doc, label: str):
    for row in doc.find_all("tr"):
        th = row.find("th")
        if th is not None and th.clean_text == label:
            return row.one("td")
    raise AssertionError(f"no row {label!r}")


def _renders_with_other_fields(client, job, problem_words=()):
    response = client.get(f"{ADMIN}default/job/{job.id}/")
    assert response.status_code == 200
    doc = parse(response)
    assert doc.one("span", id="jobqueue-job-status").clean_text
    assert _field(doc, "Queue").clean_text == "default"
    assert job.id in doc.one("h1").clean_text
    text = doc.one("div", id="content-main").clean_text
    for word in problem_words:
        assert word in text, (word, text[:2000])
    # the listing shows it too, with its problem
    tab = client.get(f"{ADMIN}default/{job.get_status(refresh=True) or 'queued'}/")
    assert tab.status_code == 200
    return doc


def test_a_job_of_a_missing_module_by_string_path(admin_client, queue):
    job = queue.enqueue("no.such.module.func", 1, two=2)
    doc = _renders_with_other_fields(admin_client, job)
    assert _field(doc, "Function").clean_text == "no.such.module.func"
    assert _field(doc, "Args").clean_text == "(1,)"
    assert listed_ids(admin_client.get(f"{ADMIN}default/")) == [job.id]
    work(queue)  # the worker fails it: the failed job renders too
    assert job.get_status() == "failed"
    doc = _renders_with_other_fields(admin_client, job)
    assert "no.such.module" in _field(doc, "Traceback").clean_text


class _Gone:
    pass


def test_a_job_whose_arguments_cannot_be_unpickled(admin_client, queue):
    """An argument of a class whose module no longer exists here."""
    module = types.ModuleType("jobqueue_vanished_module")
    _Gone.__module__ = "jobqueue_vanished_module"
    _Gone.__qualname__ = "_Gone"
    module._Gone = _Gone
    sys.modules["jobqueue_vanished_module"] = module
    try:
        job = queue.enqueue(jobs.echo, _Gone())
    finally:
        del sys.modules["jobqueue_vanished_module"]
    doc = _renders_with_other_fields(admin_client, job, ["jobqueue_vanished_module"])
    assert doc.find("div", id="jobqueue-job-problems") is not None
    assert _field(doc, "Function").clean_text == "tests.admin.jobs.echo"
    assert "Cannot be shown" in _field(doc, "Arguments").clean_text


def test_a_pickle_job_labelled_json(admin_client, queue):
    job = queue.enqueue(jobs.add, 1, 2, meta={"k": "v"})
    queue.connection.hset(keys.job(job.id), "serializer", "json")
    doc = _renders_with_other_fields(admin_client, job)
    assert doc.find("div", id="jobqueue-job-problems") is not None
    assert _field(doc, "Function").clean_text == "tests.admin.jobs.add"
    assert _field(doc, "Serializer").clean_text == "json"
    assert "Cannot be shown" in _field(doc, "Arguments").clean_text
    assert doc.find("table", id="jobqueue-raw") is not None


def test_a_json_job_labelled_pickle(admin_client, redis_url):
    settings = jobqueue_settings(redis_url, QUEUES={"default": {"SERIALIZER": "json"}})
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        queue = get_queue("default")
        job = queue.enqueue(jobs.add, 1, 2, meta={"k": "v"})
        finished = finished_job(queue, 3, 4)
        ok = admin_client.get(f"{ADMIN}default/job/{finished.id}/")
        assert _field(parse(ok), "Args").clean_text == "(3, 4)"
        for target in (job, finished):
            queue.connection.hset(keys.job(target.id), "serializer", "pickle")
            doc = _renders_with_other_fields(admin_client, target)
            assert doc.find("div", id="jobqueue-job-problems") is not None
            assert "Cannot be shown" in _field(doc, "Arguments").clean_text
    clients.reset()


def test_a_job_of_an_unknown_serializer(admin_client, queue):
    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), "serializer", "my.custom.Serializer")
    doc = _renders_with_other_fields(admin_client, job, ["my.custom.Serializer"])
    assert "Cannot be shown" in _field(doc, "Arguments").clean_text


@pytest.mark.parametrize("garbage", [b"garbage", b"", b"\x00\xff" * 50, b"\x01" + b"x" * 40])
def test_a_tampered_payload(admin_client, queue, garbage):
    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), "data", garbage)
    doc = _renders_with_other_fields(admin_client, job)
    assert doc.find("div", id="jobqueue-job-problems") is not None
    assert "Cannot be shown" in _field(doc, "Arguments").clean_text
    assert _field(doc, "Function").clean_text == "tests.admin.jobs.add"


def test_a_payload_signed_with_another_key(admin_client, queue):
    from django_jobqueue.engine import serializers

    previous = serializers._signing_key
    serializers.set_signing_key("another key entirely")
    try:
        job = queue.enqueue(jobs.add, 1, 2, meta={"progress": 10})
    finally:
        serializers._signing_key = previous
    doc = _renders_with_other_fields(admin_client, job, ["sign"])
    assert "Cannot be shown" in _field(doc, "Arguments").clean_text
    assert "Cannot be shown" in _field(doc, "Meta").clean_text


@pytest.mark.parametrize(("field", "value"), [
    ("timeout", "abc"), ("result_ttl", "abc"), ("ttl", "-x"), ("failure_ttl", "1e999"),
    ("priority", "high"), ("retries_left", "many"), ("attempts", "NaN"),
    ("retry_intervals", "[oops"), ("dependency_ids", ",,,"), ("lost_count", "x"),
])
def test_a_corrupt_integer_field(admin_client, queue, field, value):
    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), field, value)
    doc = _renders_with_other_fields(admin_client, job)
    assert _field(doc, "Args").clean_text == "(1, 2)"
    assert listed_ids(admin_client.get(f"{ADMIN}default/")) == [job.id]


@pytest.mark.parametrize(("field", "value"), [
    ("created_at", "yesterday"), ("enqueued_at", "abc"), ("started_at", "1e999"),
    ("ended_at", "-99999999999999"), ("last_lost_at", "x"), ("status", "exploded"),
    ("status", ""), ("func_name", ""), ("description", "\x00\x01<b>"),
])
def test_a_corrupt_field_of_the_listing(admin_client, queue, field, value):
    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), field, value)
    response = admin_client.get(f"{ADMIN}default/job/{job.id}/")
    assert response.status_code == 200
    assert _field(parse(response), "Args").clean_text == "(1, 2)"
    listing = admin_client.get(f"{ADMIN}default/")
    assert listing.status_code == 200
    assert listed_ids(listing) == [job.id]
    assert "\x01<b>" not in listing.content.decode()
    assert admin_client.get(ADMIN).status_code == 200


@pytest.mark.parametrize("meta", [b"garbage", b"\x01" + b"y" * 40, b""])
def test_corrupt_meta(admin_client, queue, meta):
    job = queue.enqueue(jobs.add, 1, 2, meta={"progress": 50})
    queue.connection.hset(keys.job(job.id), "meta", meta)
    doc = _renders_with_other_fields(admin_client, job)
    assert _field(doc, "Args").clean_text == "(1, 2)"
    if meta:
        assert "Cannot be shown" in _field(doc, "Meta").clean_text
        assert doc.find("div", id="jobqueue-job-problems") is not None
    listing = admin_client.get(f"{ADMIN}default/")
    row = parse(listing).one("tr", data_job_id=job.id)
    assert row.find("progress") is None
    if meta:
        assert "meta unreadable" in row.clean_text


@pytest.mark.parametrize("progress", ["fifty", None, True, [1], 1e999, -5, 250, {"a": 1}])
def test_odd_progress_values(admin_client, queue, progress):
    job = queue.enqueue(jobs.add, 1, 2, meta={"progress": progress})
    row = parse(admin_client.get(f"{ADMIN}default/")).one("tr", data_job_id=job.id)
    bar = row.find("progress")
    if isinstance(progress, int | float) and not isinstance(progress, bool):
        assert bar is not None
        assert 0 <= float(bar.get("value")) <= 100
    else:
        assert bar is None


def test_meta_that_is_not_a_dict(admin_client, queue):
    from django_jobqueue.engine.serializers import dumps_signed, resolve_serializer

    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), "meta",
                          dumps_signed(resolve_serializer(None), ["not", "a", "dict"]))
    assert admin_client.get(f"{ADMIN}default/job/{job.id}/").status_code == 200
    assert admin_client.get(f"{ADMIN}default/").status_code == 200


@pytest.mark.parametrize("entry", [b"garbage", b"", b"\x01" + b"z" * 40])
def test_corrupt_results(admin_client, queue, entry):
    job = finished_job(queue)
    queue.connection.lpush(keys.results(job.id), entry)
    response = admin_client.get(f"{ADMIN}default/job/{job.id}/")
    assert response.status_code == 200
    rows = parse(response).one("table", id="jobqueue-results").one("tbody").find_all("tr")
    assert len(rows) == 2


def test_a_result_of_an_unpicklable_return_value(admin_client, queue):
    from django_jobqueue.engine.results import Result
    from django_jobqueue.engine.serializers import dumps_signed, resolve_serializer

    job = finished_job(queue)
    module = types.ModuleType("jobqueue_vanished_module")
    _Gone.__module__ = "jobqueue_vanished_module"
    _Gone.__qualname__ = "_Gone"
    module._Gone = _Gone
    sys.modules["jobqueue_vanished_module"] = module
    try:
        blob = dumps_signed(resolve_serializer(None),
                            {"t": Result.Type.SUCCESSFUL.value, "v": _Gone(), "w": "w",
                             "s": "1700000000", "f": "1700000001"})
    finally:
        del sys.modules["jobqueue_vanished_module"]
    queue.connection.lpush(keys.results(job.id), blob)
    response = admin_client.get(f"{ADMIN}default/job/{job.id}/")
    assert response.status_code == 200


def test_a_hash_with_only_some_fields(admin_client, queue):
    job_id = "feedfacefeedfacefeedfacefeedface"
    queue.connection.hset(keys.job(job_id), mapping={"origin": "default"})
    queue.connection.zadd(keys.queue("default"), {job_id: 1})
    response = admin_client.get(f"{ADMIN}default/job/{job_id}/")
    assert response.status_code == 200
    listing = admin_client.get(f"{ADMIN}default/")
    assert listing.status_code == 200
    assert listed_ids(listing) == [job_id]
    assert admin_client.get(ADMIN).status_code == 200
    # bulk delete works on it
    response = admin_client.post(f"{ADMIN}default/queued/",
                                 {"action": "delete", "_selected_job": [job_id]}, follow=True)
    assert messages_of(response) == ["1 job deleted."]
    assert not queue.connection.exists(keys.job(job_id))


def test_the_delete_button_of_a_job_without_status_works(admin_client, queue):
    job_id = "feedfacefeedfacefeedfacefeedface"
    queue.connection.hset(keys.job(job_id), mapping={"origin": "default", "data": "x"})
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job_id}/"))
    form = doc.one("button", data_action="delete").parent
    response = admin_client.post(form.get("action"))
    assert response.status_code == 302
    assert not queue.connection.exists(keys.job(job_id))


def test_a_listed_id_without_a_job_is_skipped(admin_client, queue):
    real = queue.enqueue(jobs.add, 1, 1)
    queue.connection.zadd(keys.queue("default"), {"deadbeefdeadbeefdeadbeefdeadbeef": 0.5})
    response = admin_client.get(f"{ADMIN}default/")
    assert response.status_code == 200
    assert listed_ids(response) == [real.id]


@pytest.mark.parametrize("action", ["requeue", "cancel", "delete"])
def test_actions_on_an_unreadable_job(admin_client, queue, action):
    job = queue.enqueue(jobs.add, 1, 2)
    queue.connection.hset(keys.job(job.id), mapping={"data": b"garbage", "meta": b"junk",
                                                     "timeout": "abc"})
    response = admin_client.post(f"{ADMIN}default/job/{job.id}/{action}/", follow=True)
    assert response.status_code == 200
    assert len(messages_of(response)) >= 1
    response = admin_client.post(f"{ADMIN}default/queued/",
                                 {"action": action, "_selected_job": [job.id]}, follow=True)
    assert response.status_code == 200


def test_unreadable_failed_jobs_are_requeued_and_deleted_in_bulk(admin_client, queue):
    broken = failed_job(queue)
    queue.connection.hset(keys.job(broken.id), mapping={"data": b"garbage", "meta": b"junk"})
    fine = failed_job(queue)
    response = admin_client.post(f"{ADMIN}default/-/requeue-failed/", CONFIRM, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["2 jobs requeued."]
    assert queue.count == 2 and {broken.id, fine.id} == set(queue.get_job_ids())


XSS = '<img src=x onerror="alert(1)">'


def test_stored_html_is_escaped_everywhere(admin_client, queue):
    from django_jobqueue.engine import scripts

    job = failed_job(queue, message=XSS)
    queue.connection.hset(keys.job(job.id), mapping={"func_name": XSS, "description": XSS,
                                                     "worker_name": XSS})
    fields = ["name", XSS, "hostname", XSS, "pid", "1", "queues", "default", "birth",
              "1700000000", "state", XSS, "current_job", XSS]
    scripts.get("heartbeat")(queue.connection, XSS, 60, 60, "", "", "", *fields)
    for url in (ADMIN, WORKERS, f"{ADMIN}default/failed/", f"{ADMIN}default/job/{job.id}/",
                f"{ADMIN}default/failed/?q={job.id}"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert XSS not in response.content.decode(), url
        assert "<img" not in response.content.decode(), url


# --------------------------------------------------------------------------- corrupt workers


@pytest.mark.parametrize(("field", "value"), [
    ("pid", "abc"), ("birth", "yesterday"), ("last_heartbeat", "x"),
    ("successful_job_count", "many"), ("failed_job_count", "-"), ("total_working_time", "t"),
    ("queues", ""), ("state", "<b>weird</b>"), ("current_job", "no such job"),
])
def test_a_corrupt_worker_record(admin_client, queue, field, value):
    from django_jobqueue.engine import scripts

    record = {"name": "w1", "hostname": "h", "pid": "1", "queues": "default",
              "birth": "1700000000", "state": "idle", "current_job": "",
              "successful_job_count": "1", "failed_job_count": "0",
              "total_working_time": "0"}
    scripts.get("heartbeat")(queue.connection, "w1", 60, 60, "", "", "",
                             *[x for kv in record.items() for x in kv])
    queue.connection.hset(keys.worker("w1"), field, value)
    for url in (ADMIN, WORKERS, f"{ADMIN}default/", f"{ADMIN}-/stats.json", f"{ADMIN}-/metrics"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert "<b>weird</b>" not in admin_client.get(WORKERS).content.decode()
    assert parse(admin_client.get(WORKERS)).find("tr", data_worker="w1") is not None


# --------------------------------------------------------------------------- bad posts


def test_bulk_with_too_many_or_bad_ids(admin_client, queue):
    failed = failed_job(queue)
    ids = [failed.id, "not valid!", "", "x" * 5000, *(f"{i:032x}" for i in range(600))]
    response = admin_client.post(f"{ADMIN}default/failed/",
                                 {"action": "delete", "_selected_job": ids}, follow=True)
    assert response.status_code == 200
    shown = messages_of(response)
    assert shown[0] == "1 job deleted."
    assert not queue.connection.exists(keys.job(failed.id))


def test_a_post_to_a_page_that_takes_none_changes_nothing(admin_client, queue):
    job = failed_job(queue)
    for url in (ADMIN, WORKERS, f"{ADMIN}default/job/{job.id}/", f"{ADMIN}-/stats.json"):
        response = admin_client.post(url, {"action": "delete", "_selected_job": [job.id]})
        assert response.status_code in (200, 302, 404, 405), url
    assert queue.connection.hget(keys.job(job.id), "status") == b"failed"
    assert LogEntry.objects.count() == 0


# --------------------------------------------------------------------------- Redis down


@pytest.fixture
def redis_down(redis_server, queue):
    job = failed_job(queue)
    redis_server.stop()
    yield job
    # the redis_url fixture of the next test starts it again


@pytest.mark.parametrize("url", [
    f"{ADMIN}default/", f"{ADMIN}default/failed/", f"{ADMIN}default/job/{{job}}/",
    f"{ADMIN}default/-/requeue-failed/", f"{MOUNT}default/",
    f"{ADMIN}default/?q=abc",
])
def test_pages_give_a_503_when_redis_is_down(admin_client, redis_down, url):
    response = admin_client.get(url.format(job=redis_down.id))
    assert response.status_code == 503
    doc = parse(response)
    assert doc.find("p", id="jobqueue-error") is not None
    assert doc.find(id="site-name") is not None


@pytest.mark.parametrize("url", [
    f"{ADMIN}default/job/{{job}}/requeue/", f"{ADMIN}default/job/{{job}}/delete/",
    f"{ADMIN}default/-/requeue-failed/", f"{ADMIN}default/-/empty/", f"{ADMIN}default/failed/",
])
def test_actions_give_a_503_when_redis_is_down(admin_client, redis_down, url):
    response = admin_client.post(url.format(job=redis_down.id),
                                 {"action": "requeue", "_selected_job": [redis_down.id]})
    assert response.status_code == 503
    assert parse(response).find("p", id="jobqueue-error") is not None
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("url", [ADMIN, WORKERS, MOUNT, f"{MOUNT}-/workers/"])
def test_overview_pages_say_redis_is_down(admin_client, redis_down, url):
    response = admin_client.get(url)
    assert response.status_code in (200, 503)
    text = parse(response).one("div", id="content-main").clean_text
    assert "could not be read" in text or "Redis" in text
    if url in (ADMIN, MOUNT):
        row = parse(response).find("tr", data_queue="default")
        assert row is None or "unreachable" in row.clean_text


def test_stats_and_metrics_say_redis_is_down(admin_client, redis_down):
    response = admin_client.get(f"{ADMIN}-/stats.json")
    assert response.status_code in (200, 503)
    body = response.json()
    if response.status_code == 200:
        assert body["errors"] and body["queues"]["default"]["reachable"] is False
    metrics = admin_client.get(f"{ADMIN}-/metrics")
    assert metrics.status_code in (200, 503)
    if metrics.status_code == 200:
        assert 'jobqueue_up{connection="default"} 0' in metrics.content.decode()


def test_a_bulk_action_past_the_limit_says_so(users, queue):
    """Ids past the 500 one action takes are left alone, and the message says why."""
    from django_jobqueue.admin.actions import MAX_SELECTED

    made = [queue.enqueue(jobs.add, i, i) for i in range(3)]
    ids = [f"nojob{i}" for i in range(MAX_SELECTED - 1)] + [j.id for j in made]
    response = client_for(users["operator"]).post(
        f"{ADMIN}default/", {"action": "cancel", "_selected_job": ids}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "1 job canceled.",
        f"{MAX_SELECTED + 1} jobs not canceled: {MAX_SELECTED - 1} no longer exist, "
        f"2 were past the {MAX_SELECTED} one action takes.",
    ]
    assert [j.get_status() for j in made] == ["canceled", "queued", "queued"]


def test_bulk_delete_takes_ids_of_expired_jobs_off_the_tab(users, queue):
    """A queued job whose ttl ran out leaves its id on the queue; delete clears it."""
    ghost, live = queue.enqueue(jobs.add, 1, 1), queue.enqueue(jobs.add, 2, 2)
    queue.connection.delete(keys.job(ghost.id))
    response = client_for(users["operator"]).post(
        f"{ADMIN}default/", {"action": "delete", "_selected_job": [ghost.id, "nojob"]},
        follow=True)
    assert messages_of(response) == ["1 job deleted.", "1 job not deleted: 1 no longer exists."]
    assert queue.get_job_ids() == [live.id]
