"""The activity charts (admin/charts.py draws them, admin/activity.py reads the engine's
history): the SVG of known series, the buckets of an hour and of a day, the dashboard's sum
of the queues, the reads they cost, empty and corrupt history; then, in a real headless
Chromium, the dashboard and a queue page with their charts in the light and the dark theme
(screenshots in /tmp/shots/)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from django.test.utils import override_settings

from django_jobqueue.admin import activity
from django_jobqueue.admin.charts import (
    BASELINE,
    LEFT,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    TOP,
    Axis,
    Bucket,
    bar_chart,
    line_chart,
    short_number,
)
from django_jobqueue.engine import keys
from django_jobqueue.integration import clients
from tests.admin.browser_site import OPERATOR, browser, screenshot, site
from tests.admin.helpers import ADMIN, failed_job, finished_job, parse

__all__ = ["browser", "site"]  # fixtures

pytestmark = pytest.mark.timeout(180)

SVG = "{http://www.w3.org/2000/svg}"
#: 2023-11-14 22:13:20 UTC, a fixed "now" for the readers
NOW = 1_700_000_000.0
AXIS = Axis(clock=lambda t: f"at{t}", span=lambda t: f"bucket {t}", ticks=[1180])


def svg(markup: str) -> ET.Element:
    """The chart as XML (it must be well-formed: that is also what a browser parses)."""
    return ET.fromstring(str(markup))


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [el for el in root.iter(SVG + tag) if cls in (el.get("class") or "").split()]


def put_history(connection, queue: str, now: float, counts: dict[int, dict[str, int]]) -> None:
    """As finish.lua/fail.lua write it: ``{minutes ago: {outcome: count}}``."""
    last = int(now // 60)
    pipe = connection.pipeline()
    for ago, outcomes in counts.items():
        minute = last - ago
        for outcome, count in outcomes.items():
            pipe.hset(keys.history(queue, minute // 60), f"{minute}|{outcome}", count)
    pipe.execute()


def put_depth(connection, queue: str, now: float, depths: dict[int, int]) -> None:
    """As depth_sample.lua writes it: ``{minutes ago: queued jobs}``."""
    last = int(now // 60)
    for ago, depth in depths.items():
        minute = last - ago
        connection.hset(keys.depth(queue, minute // 60), str(minute), depth)


def charts_of(doc) -> dict[str, ET.Element]:
    """data-chart -> its SVG, from a page parsed by tests.admin.helpers.parse."""
    section = doc.one("section", id="jobqueue-activity")
    out = {}
    for figure in section.find_all("figure", class_="jobqueue-chart"):
        html = figure.one("svg")
        out[figure.get("data-chart")] = html
    return out


def bucket_values(svg_element) -> list[str]:
    return [g.get("data-value") for g in svg_element.find_all("g", class_="bucket")]


# --------------------------------------------------------------------------- the SVG


def test_bars_of_a_known_series_stand_where_and_as_high_as_their_counts():
    values = [0, 3, None, 6, 1]
    buckets = [Bucket(1000 + 60 * n, v) for n, v in enumerate(values)]
    root = svg(bar_chart(buckets, AXIS, "Finished per minute", "finished", "none", "finished"))
    width = PLOT_WIDTH / len(values)
    bars = by_class(root, "rect", "bar")
    assert len(bars) == 3  # none for 0 or None
    assert all("finished" in bar.get("class") for bar in bars)
    heights = [float(bar.get("height")) for bar in bars]
    assert heights == pytest.approx([PLOT_HEIGHT / 2, PLOT_HEIGHT, PLOT_HEIGHT / 6], abs=0.01)
    xs = [float(bar.get("x")) for bar in bars]
    assert xs == pytest.approx([LEFT + n * width + 0.5 for n in (1, 3, 4)], abs=0.01)
    for bar, height in zip(bars, heights, strict=True):  # standing on the baseline
        assert float(bar.get("y")) + height == pytest.approx(BASELINE, abs=0.01)
    assert root.get("data-max") == "6" and root.get("data-buckets") == "5"
    assert [t.text for t in by_class(root, "text", "max")] == ["6"]  # the maximum, labelled
    assert [t.text for t in by_class(root, "text", "zero")] == ["0"]
    [tick] = by_class(root, "text", "time")
    assert tick.text == "at1180" and float(tick.get("x")) == pytest.approx(LEFT + 3 * width)
    tips = [g.find(SVG + "title").text for g in root.iter(SVG + "g")]
    assert tips[1] == "bucket 1060: 3 finished" and tips[2] == "bucket 1120: 0 finished"
    assert not by_class(root, "text", "empty")
    assert root.get("aria-label") == "Finished per minute"


def test_a_line_is_broken_where_no_sample_was_taken():
    values = [None, 2, 4, None, 5]
    buckets = [Bucket(1000 + 60 * n, v) for n, v in enumerate(values)]
    root = svg(line_chart(buckets, AXIS, "Queued jobs", "queued", "no samples", "depth"))
    width = PLOT_WIDTH / len(values)
    [line] = root.iter(SVG + "polyline")
    points = [float(n) for p in line.get("points").split() for n in p.split(",")]
    assert points == pytest.approx([LEFT + 1.5 * width, BASELINE - PLOT_HEIGHT * 2 / 5,
                                    LEFT + 2.5 * width, BASELINE - PLOT_HEIGHT * 4 / 5])
    [dot] = root.iter(SVG + "circle")  # the sample standing alone
    assert float(dot.get("cx")) == pytest.approx(LEFT + 4.5 * width)
    assert float(dot.get("cy")) == pytest.approx(TOP)  # the maximum is the top
    assert [t.text for t in by_class(root, "text", "max")] == ["5"]
    tips = [g.find(SVG + "title").text for g in root.iter(SVG + "g")]
    assert tips[0] == "bucket 1000: not sampled" and tips[4] == "bucket 1240: 5 queued"


def test_an_empty_series_is_an_empty_chart_saying_so():
    zeros = [Bucket(60 * n, 0) for n in range(60)]
    root = svg(bar_chart(zeros, AXIS, "Failed", "failed", "no job failed", "failed"))
    assert not by_class(root, "rect", "bar")
    assert [t.text for t in by_class(root, "text", "empty")] == ["no job failed"]
    assert not by_class(root, "text", "max")  # no scale above 0 to label
    assert [t.text for t in by_class(root, "text", "zero")] == ["0"]
    unsampled = [Bucket(60 * n, None) for n in range(60)]
    root = svg(line_chart(unsampled, AXIS, "Queued", "queued", "no samples", "depth"))
    assert not list(root.iter(SVG + "polyline")) and not list(root.iter(SVG + "circle"))
    assert [t.text for t in by_class(root, "text", "empty")] == ["no samples"]
    assert svg(bar_chart([], AXIS, "x", "x", "nothing")).get("data-buckets") == "0"


def test_text_in_a_chart_is_escaped():
    axis = Axis(clock=lambda t: "<b>", span=lambda t: "a & b", ticks=[0])
    root = svg(bar_chart([Bucket(0, 1)], axis, 'say "<script>"', "<i>", "x"))
    assert root.get("aria-label") == 'say "<script>"'
    assert root.find(f"{SVG}g/{SVG}title").text == "a & b: 1 <i>"


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), (999, "999"), (1234, "1,234"),
                                              (12345, "12.3k"), (2_500_000, "2.5M")])
def test_axis_numbers_are_short(value, shown):
    assert short_number(value) == shown


# --------------------------------------------------------------------------- the readings


def test_an_hour_is_sixty_minutes_and_a_day_is_aligned_15_minute_buckets(connection):
    put_history(connection, "default", NOW, {0: {"finished": 2, "failed": 1},
                                             59: {"finished": 7}, 60: {"finished": 100}})
    put_depth(connection, "default", NOW, {0: 4, 1: 9, 59: 1})
    found, errors = activity.read_series(["default"], activity.WINDOWS["hour"], NOW)
    assert not errors
    hour = found["default"]
    assert len(hour.starts) == 60 and hour.starts[-1] == int(NOW // 60) * 60
    assert hour.finished[-1] == 2 and hour.failed[-1] == 1 and hour.finished[0] == 7
    assert sum(hour.finished) == 9  # 60 minutes ago is out of the hour
    assert hour.depth[-1] == 4 and hour.depth[-2] == 9 and hour.depth[0] == 1
    assert hour.depth[-3] is None

    day = activity.read_series(["default"], activity.WINDOWS["day"], NOW)[0]["default"]
    assert all(start % 900 == 0 for start in day.starts)
    assert len(day.starts) in (96, 97) and day.starts[-1] <= NOW < day.starts[-1] + 900
    assert sum(day.finished) == 109
    in_last = [depth for ago, depth in ((0, 4), (1, 9))
               if (int(NOW // 60) - ago) * 60 >= day.starts[-1]]
    assert day.depth[-1] == max(in_last)  # a day's bucket shows its peak


def test_the_dashboard_sums_the_queues_and_a_queue_page_shows_its_own(admin_client,
                                                                      connection):
    now = time.time()
    put_history(connection, "default", now, {1: {"finished": 2}})
    put_history(connection, "high", now, {1: {"finished": 3, "failed": 4}})
    put_depth(connection, "high", now, {1: 5})
    dashboard = charts_of(parse(admin_client.get(ADMIN)))
    assert set(dashboard) == {"finished", "failed", "depth"}
    assert bucket_values(dashboard["finished"])[-2] == "5"
    assert bucket_values(dashboard["failed"])[-2] == "4"
    assert bucket_values(dashboard["depth"])[-2] == "5"
    page = parse(admin_client.get(f"{ADMIN}default/"))
    own = charts_of(page)
    assert bucket_values(own["finished"])[-2] == "2" and own["failed"].get("data-max") == "0"
    assert page.one("section", id="jobqueue-activity").get("data-window") == "hour"


def test_the_window_switch_keeps_the_query_and_a_bad_window_is_the_hour(admin_client):
    doc = parse(admin_client.get(f"{ADMIN}default/finished/", {"window": "day",
                                                                "per_page": "50"}))
    section = doc.one("section", id="jobqueue-activity")
    assert section.get("data-window") == "day"
    assert charts_of(doc)["finished"].get("data-buckets") in ("96", "97")
    to_hour = section.one("a", data_window="hour").get("href")
    assert "window=hour" in to_hour and "per_page=50" in to_hour
    for bad in ("week", "", "<script>", "hour\x00"):
        doc = parse(admin_client.get(f"{ADMIN}default/", {"window": bad}))
        assert doc.one("section", id="jobqueue-activity").get("data-window") == "hour"
        assert charts_of(doc)["finished"].get("data-buckets") == "60"


def test_a_window_costs_two_round_trips_per_server_whatever_its_length(admin_client,
                                                                       count_round_trips):
    client = clients.get_client("default")
    costs = {}
    for url in (ADMIN, f"{ADMIN}?window=day", f"{ADMIN}default/", f"{ADMIN}default/?window=day"):
        assert admin_client.get(url).status_code == 200  # warm up
        with count_round_trips(client) as counter:
            assert admin_client.get(url).status_code == 200
        costs[url] = counter.value
    assert costs[ADMIN] == costs[f"{ADMIN}?window=day"] == 2  # counts, history + depth
    assert costs[f"{ADMIN}default/"] == costs[f"{ADMIN}default/?window=day"]


def test_empty_history_renders_empty_charts(admin_client):
    for url in (ADMIN, f"{ADMIN}default/", f"{ADMIN}default/?window=day"):
        response = admin_client.get(url)
        assert response.status_code == 200
        doc = parse(response)
        figures = doc.one("section", id="jobqueue-activity").find_all("figure")
        assert [f.get("data-chart") for f in figures] == ["finished", "failed", "depth"]
        assert all(f.get("data-empty") == "true" for f in figures)
        assert doc.find("p", id="jobqueue-activity-errors") is None


def test_real_executions_show_in_the_charts(admin_client, queue):
    finished_job(queue)
    failed_job(queue)
    charts = charts_of(parse(admin_client.get(f"{ADMIN}default/")))
    assert charts["finished"].get("data-max") == "1" and charts["failed"].get("data-max") == "1"


def test_corrupt_history_shows_without_a_500(admin_client, connection):
    now = time.time()
    hour = int(now // 60) // 60
    put_history(connection, "default", now, {0: {"finished": 3}})
    connection.hset(keys.history("default", hour), mapping={
        f"{int(now // 60)}|failed": "many", "soon|finished": 5, f"{int(now // 60)}|odd": 2,
        "|": "", "\xff": b"\xfe"})
    connection.set(keys.history("default", hour - 1), "a string, not a hash")
    connection.rpush(keys.depth("default", hour), "a list")
    connection.hset(keys.depth("default", hour - 1), mapping={"x": 1, "-5": 2, "7": "abc"})
    for url in (ADMIN, f"{ADMIN}default/", f"{ADMIN}default/?window=day"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        charts = charts_of(parse(response))
        assert charts["finished"].get("data-max") == "3"  # what could be read
        assert charts["failed"].get("data-max") == "0"


def test_a_history_field_of_odd_digits_is_ignored_not_a_500(admin_client, connection):
    """A field name of digits Python will not read as a number ("²") is skipped by the
    engine's reader: the charts show the rest."""
    now = time.time()
    connection.hset(keys.history("high", int(now // 60) // 60), "²|finished", 1)
    put_history(connection, "default", now, {0: {"finished": 1}})
    for url in (ADMIN, f"{ADMIN}high/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        doc = parse(response)
        assert doc.find("p", id="jobqueue-activity-errors") is None
        assert len(charts_of(doc)) == 3
    assert parse(admin_client.get(ADMIN)).find("tr", data_queue="high") is not None


def test_times_on_the_axis_are_local(admin_client):
    with override_settings(TIME_ZONE="Asia/Kolkata"):  # UTC+5:30: ticks on local hours
        doc = parse(admin_client.get(f"{ADMIN}default/?window=day"))
    ticks = charts_of(doc)["finished"].find_all("text", class_="time")
    assert len(ticks) >= 5
    for tick in ticks:
        assert tick.text.endswith(":00") and int(tick.text[:2]) % 4 == 0
        assert (int(tick.get("data-tick")) + 5 * 3600 + 1800) % (4 * 3600) == 0


# --------------------------------------------------------------------------- in the browser

FILL = "return getComputedStyle(document.querySelector(arguments[0])).fill"
#: the admin's --link-fg, --error-fg and --body-fg in each theme (Django's base.css and
#: dark_mode.css)
COLOURS = {"light": ("rgb(65, 120, 147)", "rgb(186, 33, 33)", "rgb(51, 51, 51)"),
           "dark": ("rgb(129, 212, 250)", "rgb(227, 95, 95)", "rgb(238, 238, 238)")}


def set_theme(browser, theme: str) -> None:
    """The admin's theme toggle keeps its choice in localStorage["theme"]."""
    browser.driver.execute_script("localStorage.setItem('theme', arguments[0])", theme)
    browser.driver.refresh()
    browser.wait(lambda d: d.execute_script(
        "return document.documentElement.dataset.theme") == theme, f"no {theme} theme")


def check_charts(browser, theme: str) -> None:
    browser.find("#jobqueue-activity svg")
    browser.assert_no_server_error()
    assert len(browser.find_all("#jobqueue-activity figure svg")) == 3
    bar, failed, peak = COLOURS[theme]
    run = browser.driver.execute_script
    assert run(FILL, '[data-chart="finished"] rect.bar') == bar
    assert run(FILL, '[data-chart="failed"] rect.bar') == failed
    assert run(FILL, '[data-chart="finished"] text.max') == peak
    assert run("return getComputedStyle(document.querySelector(arguments[0])).stroke",
               '[data-chart="depth"] polyline') == bar
    width = run("return document.querySelector('#jobqueue-activity svg')"
                ".getBoundingClientRect().width")
    assert 240 <= width <= 480, width


def test_the_charts_in_the_browser_light_and_dark(browser, connection):
    now = time.time()
    shape = {ago: {"finished": 5 + (ago * 7) % 23, **({"failed": ago % 4} if ago % 9 == 0
                                                      else {})} for ago in range(0, 24 * 60, 3)}
    put_history(connection, "default", now, shape)
    put_history(connection, "high", now, {ago: {"finished": 2} for ago in range(0, 600, 5)})
    put_depth(connection, "default", now, {ago: 40 + (ago % 30) for ago in range(0, 24 * 60)
                                           if ago % 50 < 45})
    browser.login(OPERATOR, next_path=ADMIN)
    for theme in ("light", "dark"):
        set_theme(browser, theme)
        check_charts(browser, theme)
        screenshot(browser, f"charts-dashboard-{theme}")
        browser.open(f"{ADMIN}default/finished/")
        check_charts(browser, theme)
        screenshot(browser, f"charts-queue-{theme}")
        browser.click_and_wait_for_new_page('#jobqueue-activity a[data-window="day"]')
        assert browser.find("#jobqueue-activity").get_attribute("data-window") == "day"
        assert "/default/finished/" in browser.path
        check_charts(browser, theme)
        screenshot(browser, f"charts-queue-day-{theme}")
        browser.open(ADMIN)


def test_empty_charts_in_the_browser(browser):
    browser.login(OPERATOR, next_path=ADMIN)
    set_theme(browser, "dark")
    browser.find("#jobqueue-activity svg")
    assert len(browser.find_all("#jobqueue-activity figure[data-empty=true]")) == 3
    assert [e.text for e in browser.find_all("#jobqueue-activity text.empty")] == \
        ["no job finished", "no job failed", "no samples"]
    screenshot(browser, "charts-empty-dark")


def test_the_pages_need_no_inline_style_or_script(admin_client, queue, connection):
    """A Content-Security-Policy without 'unsafe-inline' holds: colours come from classes in
    pages.css, geometry from SVG attributes."""
    put_history(connection, "default", time.time(), {0: {"finished": 1, "failed": 1}})
    put_depth(connection, "default", time.time(), {0: 3})
    job = failed_job(queue)
    for url in (ADMIN, f"{ADMIN}?window=day", f"{ADMIN}default/failed/",
                f"{ADMIN}default/job/{job.id}/", "/admin/django_jobqueue/worker/"):
        main = parse(admin_client.get(url)).one("div", id="content-main")
        for el in main.iter():
            assert "style" not in el.attrs, (url, el)
            assert el.tag != "style" and (el.tag != "script" or el.get("src")), (url, el)


def test_queues_of_an_unreachable_connection_are_said_missing(admin_client, redis_url):
    from tests.admin.conftest import jobqueue_settings
    from tests.harness import free_port

    settings = jobqueue_settings(redis_url, QUEUES={"a": {}, "gone": {"CONNECTION": "down"}})
    settings["CONNECTIONS"]["down"] = {"URL": f"redis://127.0.0.1:{free_port()}/0"}
    put_history(clients.get_client("default"), "a", time.time(), {0: {"finished": 2}})
    with override_settings(JOBQUEUE=settings):
        clients.reset()
        response = admin_client.get(ADMIN)
    clients.reset()
    assert response.status_code == 200
    doc = parse(response)
    note = doc.one("p", id="jobqueue-activity-errors").clean_text
    assert "connection down (unreachable)" in note
    assert charts_of(doc)["finished"].get("data-max") == "2"
