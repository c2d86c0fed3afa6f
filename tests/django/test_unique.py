"""Unique jobs through the Django layer: @job(unique=...), its options checked at
decoration, and what unique means for an enqueue that waits for the commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_jobqueue import JobStatus, get_queue, get_worker, job
from django_jobqueue.engine import keys


@job(unique=True)
def refresh_cache(name):
    return f"refreshed {name}"


@job("high", unique_for=600)
def send_digest(user_id):
    return user_id


@job(unique_key="nightly-export")
def export_orders():
    return "orders"


@job(unique_key="nightly-export")
def export_invoices():
    return "invoices"


def test_delay_and_enqueue_of_a_unique_job_return_the_queued_one():
    first = refresh_cache.delay("home")
    assert refresh_cache.delay("home").id == first.id
    assert refresh_cache.enqueue("home").id == first.id
    assert refresh_cache.delay("about").id != first.id
    assert get_queue().count == 2


def test_unique_for_on_the_decorator_covers_the_finished_job():
    first = send_digest.delay(7)
    get_worker("high").work(burst=True)
    again = send_digest.delay(7)
    assert again.id == first.id and again.get_status() == JobStatus.FINISHED
    assert get_queue("high").count == 0


def test_two_functions_sharing_a_unique_key_make_one_job():
    first = export_orders.delay()
    again = export_invoices.delay()
    assert again.id == first.id and again.func_name.endswith("export_orders")
    get_worker().work(burst=True)
    assert export_invoices.delay().id != first.id  # released at the finish


@pytest.mark.parametrize(("options", "error"), [
    ({"unique": "yes"}, TypeError),
    ({"unique_for": -5}, ValueError),
    ({"unique_key": ""}, ValueError),
])
def test_bad_unique_options_fail_at_decoration(options, error):
    with pytest.raises(error, match="unique"):
        job("default", **options)(refresh_cache)


def test_in_a_transaction_the_duplicate_is_known_at_the_commit():
    queue = get_queue()
    with transaction.atomic():
        first = refresh_cache.delay("menu")
        second = refresh_cache.delay("menu")
        assert first.id != second.id  # nothing is known before the commit
        assert queue.connection.dbsize() == 0
    assert queue.job_ids == [first.id]
    assert first.get_status() == JobStatus.QUEUED
    assert second.get_status() is None  # a duplicate at the commit: never stored
    held = queue.connection.get(keys.unique(first.unique_key))
    assert held == first.id.encode()
    assert refresh_cache.delay("menu").id == first.id  # outside: the job kept comes back
