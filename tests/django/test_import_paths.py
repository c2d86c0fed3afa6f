"""The package's import paths: the RQ-path modules re-export exactly their ``__all__``, the
Django internals live in ``integration/`` (none at the root), ``django_jobqueue.job`` is both
the ``@job`` decorator and the RQ module whatever the import order, the two client functions
take what their names say, and the Django layer's modules import each other without a cycle."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.test.utils import override_settings

import django_jobqueue
from django_jobqueue import engine, get_connection
from django_jobqueue.integration.clients import get_client
from tests.django.conftest import jobqueue_settings
from tests.harness import run_python

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "django_jobqueue"
RQ_PATHS = ["command", "connections", "exceptions", "job", "queue", "registry", "results",
            "serializers", "worker"]


# --------------------------------------------------------------------------- RQ paths


@pytest.mark.parametrize("name", RQ_PATHS)
def test_an_rq_path_exports_exactly_its_all(name):
    module = importlib.import_module(f"django_jobqueue.{name}")
    public = {n for n in dir(module) if not n.startswith("_")}
    assert public == set(module.__all__)
    assert len(module.__all__) == len(set(module.__all__))
    for attr in module.__all__:
        value = getattr(module, attr)
        origin = getattr(value, "__module__", "") or ""
        assert origin.startswith("django_jobqueue.engine"), (attr, origin)


def test_the_rq_paths_hold_the_names_rq_users_import():
    from django_jobqueue import exceptions, job, queue, registry, results, serializers, worker

    assert (job.Job, job.JobStatus, job.Retry, job.get_current_job) == (
        engine.Job, engine.JobStatus, engine.Retry, engine.get_current_job)
    assert queue.Queue is engine.Queue and results.Result is engine.Result
    assert {worker.Worker, worker.SimpleWorker} == {engine.Worker, engine.SimpleWorker}
    assert registry.FailedJobRegistry is engine.FailedJobRegistry
    assert issubclass(registry.StartedJobRegistry, registry.BaseRegistry)
    assert serializers.JSONSerializer is engine.JSONSerializer
    from django_jobqueue.engine import exceptions as engine_exceptions

    defined = {n for n, v in vars(engine_exceptions).items()
               if isinstance(v, type) and issubclass(v, BaseException)
               and v.__module__ == engine_exceptions.__name__}
    assert set(exceptions.__all__) == defined


def test_the_django_internals_are_not_at_the_package_root():
    for moved in ("conf", "clients", "queues", "djangoworker"):
        assert not (PACKAGE / f"{moved}.py").exists()
    for module in ("settings", "clients", "queues", "worker", "overview"):
        assert (PACKAGE / "integration" / f"{module}.py").is_file()


# --------------------------------------------------------------------------- the two clients


def test_get_connection_takes_a_queue_name_and_get_client_a_connection_name(redis_url):
    config = jobqueue_settings(redis_url, QUEUES={"default": {}, "mail": {"CONNECTION": "other"}})
    config["CONNECTIONS"]["other"] = {"URL": redis_url.rsplit("/", 1)[0] + "/1"}
    with override_settings(JOBQUEUE=config):
        assert get_connection("mail") is get_client("other")
        assert get_connection("mail") is not get_client("default")
        assert get_connection() is get_client("default")
        with pytest.raises(KeyError, match="Unknown queue 'other'"):
            get_connection("other")  # a connection name is not a queue name
        with pytest.raises(KeyError, match="Unknown connection 'mail'"):
            get_client("mail")


# --------------------------------------------------------------------------- @job and rq.job

_DECORATE = (
    "@job\n"
    "def bare(): return 1\n"
    "@job('default')\n"
    "def named(): return 2\n"
    "@job('high', timeout=5)\n"
    "def with_options(): return 3\n"
    "assert (bare(), named(), with_options()) == (1, 2, 3)\n"
    "for wrapped in (bare, named, with_options):\n"
    "    assert callable(wrapped.delay) and callable(wrapped.enqueue)\n"
    "assert [w.queue_name for w in (bare, named, with_options)] == ['default', 'default', "
    "'high']\n"
    "import django_jobqueue, django_jobqueue.job\n"
    "assert job is django_jobqueue.job is django_jobqueue.__getattr__('job')\n"
    "assert django_jobqueue.job.Job is django_jobqueue.Job\n"
    "print('ok')\n"
)


@pytest.mark.parametrize("first", [
    "from django_jobqueue.job import Job, JobStatus\nfrom django_jobqueue import job\n",
    "from django_jobqueue import job\nfrom django_jobqueue.job import Job, JobStatus\n",
    "import django_jobqueue.job\nfrom django_jobqueue import *\n",
    "from django_jobqueue import *\nimport django_jobqueue.job\n",
], ids=["rq-path-first", "decorator-first", "module-then-star", "star-then-module"])
def test_job_is_the_decorator_and_the_rq_module_in_any_import_order(first):
    code = "import django\ndjango.setup()\n" + first + _DECORATE
    proc = run_python(code, DJANGO_SETTINGS_MODULE="tests.django.settings")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"


def test_the_rq_job_path_needs_no_django():
    code = (
        "import sys\n"
        "sys.modules['django'] = None  # any import of django now fails\n"
        "from django_jobqueue.job import Job, JobStatus\n"
        "from django_jobqueue import job\n"
        "assert job.Job is Job and JobStatus.QUEUED == 'queued'\n"
        "print('ok')\n"
    )
    proc = run_python(code, DJANGO_SETTINGS_MODULE=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"


# --------------------------------------------------------------------------- no import cycles


def _django_layer_imports() -> dict[str, set[str]]:
    """module -> the package modules it imports at module level (the engine left out: it
    imports nothing from the Django layer, test_architecture.py checks that)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if "engine" in parts or "migrations" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        found = graph.setdefault(name, set())
        for node in ast.parse(path.read_text()).body:  # module level only
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = parts if is_package else parts[:-1]
            base = base[:len(base) - (node.level - 1)]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                for candidate in (f"{target}.{alias.name}", target):
                    if (ROOT / (candidate.replace(".", "/") + ".py")).is_file() or \
                            (ROOT / candidate.replace(".", "/") / "__init__.py").is_file():
                        found.add(candidate)
                        break
    return graph


def test_the_django_layer_has_no_import_cycle():
    graph = _django_layer_imports()
    assert "django_jobqueue.integration.queues" in graph
    assert "django_jobqueue.integration.settings" in graph["django_jobqueue.integration.queues"]
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target == module or target not in graph:
                continue
            assert state.get(target) != "open", " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_package_root_still_offers_the_documented_helpers():
    for name in ("job", "get_queue", "enqueue", "get_worker", "get_connection", "UnknownQueue"):
        assert name in django_jobqueue.__all__
        assert getattr(django_jobqueue, name) is not None
