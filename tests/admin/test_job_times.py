"""The job page's "Waited" and "Ran" rows against its function's p50/p95 run times
(admin/jobtimes.py), its description (the call's text when none was given), the listing's
optional columns, and the traceback's preview (admin/tracebacks.py)."""

from __future__ import annotations

import pytest

from django_jobqueue.admin.jobtimes import duration
from django_jobqueue.admin.tracebacks import preview
from django_jobqueue.engine import keys
from tests.admin import jobs
from tests.admin.helpers import ADMIN, failed_job, field_cell, finished_job, parse

pytestmark = pytest.mark.timeout(60)

ADD = "tests.admin.jobs.add"


def rows(client, job) -> dict[str, str]:
    response = client.get(f"{ADMIN}default/job/{job.id}/")
    assert response.status_code == 200
    doc = parse(response)
    return {tr.find_all("th")[0].clean_text: tr.find_all("td")[0].clean_text
            for tr in doc.one("table", id="jobqueue-job").find_all("tr")}


def set_times(connection, job, enqueued: float, started: float, ended: float) -> None:
    connection.hset(keys.job(job.id), mapping={
        "enqueued_at": repr(enqueued), "started_at": repr(started), "ended_at": repr(ended)})


def put_run_times(connection, func: str, buckets: dict[int, int]) -> None:
    """As _metrics.lua counts them: ``{bucket number (1-based): runs}``."""
    connection.hset(keys.metrics("default"),
                    mapping={f"{func}|b{n}": runs for n, runs in buckets.items()})


def test_a_finished_job_shows_how_long_it_waited_and_ran(admin_client, queue):
    job = finished_job(queue)
    shown = rows(admin_client, job)
    assert shown["Waited"].endswith("(from enqueued to started)")
    assert shown["Waited"].split()[1] in ("ms", "s")
    assert shown["Ran"].split()[1] in ("ms", "s")
    assert shown["Its function's run time"].startswith("p50 ≈ ")
    assert f"1 run of {ADD} on default" in shown["Its function's run time"]
    labels = list(shown)
    assert labels.index("Ended") + 1 == labels.index("Waited")  # beside the times they use


def test_run_time_set_against_p50_and_p95(admin_client, queue, connection):
    # 100 runs: 60 of at most 0.1 s (bucket 5), 40 of 0.1-0.25 s (bucket 6)
    put_run_times(connection, ADD, {5: 60, 6: 40})
    job = queue.enqueue(jobs.add, 1, 2)
    for ran, said in ((0.05, "at most its function's p50"),
                      (0.2, "between its function's p50 and p95"),
                      (12.0, "longer than its function's p95")):
        set_times(connection, job, 1_700_000_000.0, 1_700_000_003.0, 1_700_000_003.0 + ran)
        shown = rows(admin_client, job)
        assert shown["Waited"] == "3.0 s (from enqueued to started)"
        assert shown["Ran"] == f"{duration(ran)} ({said})"
    assert shown["Its function's run time"] == \
        f"p50 ≈ 92 ms, p95 ≈ 231 ms (100 runs of {ADD} on default)"


def test_no_runs_yet_and_no_rows_without_both_times(admin_client, queue, connection):
    job = queue.enqueue(jobs.add, 1, 2)
    shown = rows(admin_client, job)
    assert shown["Its function's run time"] == f"no runs yet ({ADD} on default)"
    assert "Waited" not in shown and "Ran" not in shown  # not started yet
    # enqueued again after its last start (requeued): no wait to show, the last run still is
    set_times(connection, job, 1_700_000_100.0, 1_700_000_000.0, 1_700_000_002.5)
    shown = rows(admin_client, job)
    assert "Waited" not in shown and shown["Ran"] == "2.5 s"


def test_corrupt_metrics_do_not_hide_the_job(admin_client, queue, connection):
    job = finished_job(queue)
    connection.delete(keys.metrics("default"))
    connection.set(keys.metrics("default"), "not a hash")
    assert rows(admin_client, job)["Its function's run time"].startswith("no runs yet")
    connection.delete(keys.metrics("default"))
    connection.hset(keys.metrics("default"), mapping={f"{ADD}|b3": "x", f"{ADD}|b99": 1,
                                                      f"{ADD}|b²": 1, "|": "?"})
    shown = rows(admin_client, job)  # corrupt values (also "b²") read as absent: no 500
    assert shown["Its function's run time"].startswith("no runs yet")
    assert shown["Ran"].split()[1] in ("ms", "s")


@pytest.mark.parametrize(("seconds", "shown"), [(0.0004, "0 ms"), (0.85, "850 ms"),
                                                (2.44, "2.4 s"), (42, "42 s"),
                                                (192, "3 min 12 s"), (7500, "2 h 5 min"),
                                                (3 * 86400 + 4 * 3600, "3 d 4 h")])
def test_durations_read_naturally(seconds, shown):
    assert duration(seconds) == shown


# --------------------------------------------------------------------------- description


def test_without_a_description_the_job_page_shows_the_call(admin_client, queue):
    plain = queue.enqueue(jobs.add, 1, 2)
    described = queue.enqueue(jobs.add, 3, 4, description="adds <b>three</b>")
    long = queue.enqueue(jobs.echo, "y" * 500, key={"nested": list(range(100))})
    assert rows(admin_client, plain)["Description"] == \
        f"{ADD}(1, 2) (none given: the call)"
    assert rows(admin_client, described)["Description"] == "adds <b>three</b>"
    text = rows(admin_client, long)["Description"]
    assert text.startswith("tests.admin.jobs.echo('yyyy") and "…" in text
    assert len(text) < 400


def test_the_listing_shows_description_and_progress_columns_only_when_used(admin_client,
                                                                          queue):
    queue.enqueue(jobs.add, 1, 2)

    def heads():
        doc = parse(admin_client.get(f"{ADMIN}default/"))
        table = doc.one("table", id="jobqueue-jobs")
        first_row = table.find("tr", data_job_id=True)
        cells = len(first_row.find_all("td")) if first_row else 0
        return [th.clean_text for th in table.find_all("th")], cells

    names, cells = heads()
    assert "Description" not in names and "Progress" not in names and cells == len(names)
    queue.enqueue(jobs.add, 1, 2, description="described")
    queue.enqueue(jobs.report, 5, meta={"progress": 40})
    names, cells = heads()
    assert "Description" in names and "Progress" in names and cells == len(names)


def test_a_listed_problem_shows_without_the_description_column(admin_client, queue,
                                                               connection):
    job = queue.enqueue(jobs.add, 1, 2, meta={"progress": 50})
    connection.hset(keys.job(job.id), "meta", b"garbage")
    row = parse(admin_client.get(f"{ADMIN}default/")).one("tr", data_job_id=job.id)
    assert "meta unreadable" in row.clean_text


def test_long_ids_carry_their_whole_text_and_a_title(admin_client, queue):
    job = queue.enqueue(jobs.add, 1, 2, job_id="j" * 128)
    link = parse(admin_client.get(f"{ADMIN}default/")).one("a", class_="job-link")
    assert link.get("title") == job.id and link.clean_text == job.id
    assert "jobqueue-id" in link.get("class")


# --------------------------------------------------------------------------- traceback

ENGINE_FRAME = ('  File "/srv/venv/lib/python3.12/site-packages/django_jobqueue/engine/'
                'execution.py", line 95, in perform\n    value = func(*args, **kwargs)\n'
                '            ^^^^^^^^^^^^^^^^^^^^^\n')


def test_the_preview_starts_with_the_jobs_own_frame():
    text = ("Traceback (most recent call last):\n" + ENGINE_FRAME
            + '  File "/usr/lib/python3.12/asyncio/base_events.py", line 1, in run\n    x()\n'
            + '  File "/srv/app/tasks.py", line 12, in send_report\n    render(report)\n'
            + '  File "/srv/app/render.py", line 40, in render\n    raise ValueError(x)\n'
            + "ValueError: " + "detail line\n" * 50 + "the real reason\n"
            + "Not retried: no retries left")
    shown = preview(text)
    lines = shown.splitlines()
    assert lines[0] == '  File "/srv/app/tasks.py", line 12, in send_report'
    assert lines[1] == "    render(report)" and lines[2] == "  …"  # frames below: elided
    assert lines[3] == "ValueError: detail line" and lines[4] == "…"
    assert lines[-2:] == ["the real reason", "Not retried: no retries left"]
    assert all(line in text.splitlines() or line.strip() == "…" for line in lines)


def test_a_chained_traceback_previews_its_last_exception():
    first = "Traceback (most recent call last):\n" + ENGINE_FRAME + "KeyError: 'a'\n"
    last = ("Traceback (most recent call last):\n" + ENGINE_FRAME
            + '  File "/srv/app/tasks.py", line 3, in job\n    raise RuntimeError("b")\n'
            + "RuntimeError: b")
    text = first + "\nDuring handling of the above exception, another exception occurred:\n\n"
    shown = preview(text + last)
    assert shown.splitlines()[0] == '  File "/srv/app/tasks.py", line 3, in job'
    assert shown.endswith("RuntimeError: b")


def test_text_that_is_no_traceback_previews_its_last_whole_lines():
    text = "\n".join(f"line {n}" for n in range(300))
    shown = preview(text)
    assert shown.splitlines()[0] == "…" and shown.endswith("line 299")
    assert all(line == "…" or line.startswith("line ") for line in shown.splitlines())
    assert preview("x" * 5000).endswith("x") and len(preview("x" * 5000)) < 700


def test_the_job_page_previews_the_jobs_frame(admin_client, queue):
    job = failed_job(queue, "context\n" * 60 + "why it failed")
    doc = parse(admin_client.get(f"{ADMIN}default/job/{job.id}/"))
    summary = field_cell(doc, "Traceback").one("summary").clean_text
    assert summary.startswith('File "') and "tests/admin/jobs.py" in summary
    assert "why it failed" in summary and "execution.py" not in summary
