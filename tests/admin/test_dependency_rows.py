"""The job page's rows for dependencies that can fail and chains (issue 11): why a
dependency's end canceled the job, and the chain it is a step of (linked)."""

from __future__ import annotations

from django_jobqueue import chain
from tests.admin import jobs
from tests.admin.helpers import ADMIN, parse


def _row(doc, label: str):
    for row in doc.find_all("tr"):
        th = row.find("th")
        if th is not None and th.clean_text == label:
            return row.one("td")
    return None


def test_a_job_canceled_by_its_dependency_says_why(admin_client, queue):
    parent = queue.enqueue(jobs.add, 1, 1)
    child = queue.enqueue(jobs.add, 2, 2, depends_on=parent)
    parent.cancel()
    doc = parse(admin_client.get(f"{ADMIN}default/job/{child.id}/"))
    assert doc.one("span", id="jobqueue-job-status").clean_text == "canceled"
    assert _row(doc, "Canceled because").clean_text == f"dependency {parent.id} was canceled"
    parent_doc = parse(admin_client.get(f"{ADMIN}default/job/{parent.id}/"))
    assert _row(parent_doc, "Canceled because") is None  # an operator's cancel: no reason


def test_a_chain_step_links_its_chain(admin_client, queue):
    steps = chain(queue.prepare_data(jobs.add, (1, 1)), queue.prepare_data(jobs.add, (2, 2)),
                  queue=queue)
    doc = parse(admin_client.get(f"{ADMIN}default/job/{steps.jobs[1].id}/"))
    assert _row(doc, "Chain").clean_text == steps.id
    links = [a.get("href") for a in doc.one("table", id="jobqueue-job").find_all("a")]
    assert f"{ADMIN}default/job/{steps.id}/" in links
