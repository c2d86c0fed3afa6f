"""Architecture rules of the engine, checked on its source files.

* django_jobqueue.engine imports nothing from Django (statically, and at run time);
* Redis key strings are built in django_jobqueue/engine/keys.py only;
* every Lua script lives in a .lua file under engine/scripts (no Lua inside Python);
* every engine module stays under 500 lines.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from tests.harness import run_python

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "django_jobqueue"
ENGINE = PACKAGE / "engine"
SCRIPTS = ENGINE / "scripts"
KEYS_MODULE = ENGINE / "keys.py"
MAX_LINES = 500

ENGINE_MODULES = sorted(ENGINE.rglob("*.py"))
PACKAGE_MODULES = sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_django(module: str | None) -> bool:
    return bool(module) and (module == "django" or module.startswith("django."))


def string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in a Python file (f-string parts included)."""
    found = []
    kinds = {tokenize.STRING} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    with open(path, "rb") as fh:
        for tok in tokenize.tokenize(fh.readline):
            if tok.type in kinds:
                found.append((tok.start[0], tok.string))
    return found


def test_the_engine_is_where_we_expect_it():
    names = {p.relative_to(ENGINE).as_posix() for p in ENGINE_MODULES}
    assert {"__init__.py", "keys.py", "states.py", "fields.py", "steps.py", "job.py",
            "queue.py", "worker/__init__.py", "worker/loop.py"} <= names
    assert list(SCRIPTS.glob("*.lua"))


# --- no Django in the engine ------------------------------------------------------------------


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=rel)
def test_engine_module_imports_nothing_from_django(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    offenders = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            offenders += [(node.lineno, a.name) for a in node.names if is_django(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and is_django(node.module):
            offenders.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and is_django(node.args[0].value)):  # import_module("django...") / __import__
            offenders.append((node.lineno, node.args[0].value))
    assert offenders == [], f"{rel(path)} imports Django: {offenders}"
    # the plain-text form too (e.g. an import hidden in an exec'd string)
    assert not re.search(r"^\s*(import|from)\s+django(\.|\s|$)", source, re.M)


_NO_DJANGO = (
    "import sys\n"
    "import django_jobqueue.engine\n"
    "import django_jobqueue\n"
    "from django_jobqueue import Queue, Worker, Job\n"
    "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
    "print(bad)\n"
    "sys.exit(1 if bad else 0)\n"
)


def test_importing_the_engine_loads_no_django_module():
    proc = run_python(_NO_DJANGO, DJANGO_SETTINGS_MODULE=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_package_imports_without_django_settings():
    # settings named but not importable: importing the package must not touch them
    proc = run_python(_NO_DJANGO, DJANGO_SETTINGS_MODULE="no_such_settings_module_xyz")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_engine_works_with_django_not_installed():
    code = (
        "import sys\n"
        "sys.modules['django'] = None  # any import of django now fails\n"
        "import django_jobqueue.engine as e\n"
        "from django_jobqueue import Queue, get_current_job\n"
        "assert e.Queue is Queue and get_current_job() is None\n"
        "print('ok')\n"
    )
    proc = run_python(code, DJANGO_SETTINGS_MODULE=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"


# --- Redis key names: keys.py only ----------------------------------------------------------


def _key_pattern() -> re.Pattern:
    """A key-looking literal: the prefix ``jq:`` or a layout head such as ``queue:`` glued to
    what follows (a name, ``{`` or the end of the literal), not prose like "failed: x"."""
    from django_jobqueue.engine import keys

    heads = {"jq"} | {t.partition("{}")[0].rstrip(":") for t in keys.LAYOUT.values()
                      if "{}" in t}
    alternatives = "|".join(sorted(map(re.escape, heads)))
    return re.compile(rf"(?<![\w-])(?:{alternatives}):(?=[\w{{'\"]|$)")


def test_key_pattern_catches_key_strings_and_skips_prose():
    pattern = _key_pattern()
    for key_like in ('"jq:"', "'queue:'", 'f"jq:job:{job_id}"', '"queue:{}"', '"failed:x"'):
        assert pattern.search(key_like), key_like
    for prose in ('"it is failed: retry"', '"django-jobqueue: set a key"', '"status:" + s'):
        assert not pattern.search(prose), prose


@pytest.mark.parametrize("path", PACKAGE_MODULES, ids=rel)
def test_redis_key_strings_appear_only_in_keys_py(path):
    if path == KEYS_MODULE:
        assert _key_pattern().search(path.read_text())  # the one place they are built
        return
    pattern = _key_pattern()
    offenders = [(line, text) for line, text in string_literals(path) if pattern.search(text)]
    assert offenders == [], f"{rel(path)} builds Redis keys outside keys.py: {offenders}"


@pytest.mark.parametrize("path", sorted(SCRIPTS.glob("*.lua")), ids=lambda p: p.name)
def test_lua_scripts_hard_code_no_key_prefix(path):
    # keys come from the k_<kind>() builders that keys.lua_definitions() generates
    assert not re.search(r"['\"]jq:", path.read_text())
    assert not re.search(r"['\"](queue|job|results|started|finished|failed):['\"]",
                         path.read_text())


# --- Lua lives in .lua files ----------------------------------------------------------------


STEPS_MODULE = ENGINE / "steps.py"
#: the modules that may run scripts: the steps, and the read-only views of overview.py
SCRIPT_CALLERS = {STEPS_MODULE, ENGINE / "overview.py", ENGINE / "scripts.py"}


def _scripts_used() -> dict[str, list[str]]:
    """Script name -> modules naming it: ``scripts.get("x")`` anywhere, and the
    ``_run(via, "x", ...)`` / ``_stream(client, "x", ...)`` calls of steps.py."""
    used: dict[str, list[str]] = {}
    for path in PACKAGE_MODULES:
        source = path.read_text()
        names = re.findall(r"scripts\.get\(\s*['\"]([\w-]+)['\"]", source)
        if path == STEPS_MODULE:
            names += re.findall(r"_(?:run|stream|per_id)\(\s*\w+,\s*['\"]([\w-]+)['\"]", source)
        for name in names:
            used.setdefault(name, []).append(rel(path))
    return used


def test_every_script_the_engine_runs_is_a_lua_file():
    used = _scripts_used()
    assert used, "the engine runs no script by name?"
    missing = {name: where for name, where in used.items()
               if not (SCRIPTS / f"{name}.lua").is_file()}
    assert missing == {}


def test_every_lua_file_is_used():
    files = {p.stem for p in SCRIPTS.glob("*.lua") if not p.stem.startswith("_")}
    assert files - set(_scripts_used()) == set()


@pytest.mark.parametrize("path", PACKAGE_MODULES, ids=rel)
def test_scripts_run_only_through_steps_and_overview(path):
    """One typed function per script (steps.py) is the only way to run it; the read-only
    views of overview.py are the one exception."""
    if path in SCRIPT_CALLERS:
        return
    calls = re.findall(r"scripts\.(?:get|stream)\(", path.read_text())
    assert calls == [], f"{rel(path)} runs scripts itself: call a function of steps.py"


@pytest.mark.parametrize("path", PACKAGE_MODULES, ids=rel)
def test_no_lua_embedded_in_python(path):
    source = path.read_text()
    literals = " ".join(text for _, text in string_literals(path))
    assert not re.search(r"redis\.p?call\s*\(", literals), f"Lua source inside {rel(path)}"
    # scripts run only through engine/scripts.py, from the .lua files
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("eval", "register_script",
                                                               "script_load", "evalsha"):
            allowed = path == ENGINE / "scripts.py" or (
                node.attr == "script_load" and path.parent == ENGINE  # source from scripts.get
            )
            assert allowed, f"{rel(path)}:{node.lineno} runs Lua by {node.attr}"
    code_only = io.StringIO(source)
    for tok in tokenize.generate_tokens(code_only.readline):
        if tok.type == tokenize.STRING and tok.string.strip("'\"bB") in ("EVAL", "EVAL_RO"):
            pytest.fail(f"{rel(path)}:{tok.start[0]} sends a raw EVAL")


# --- size -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ENGINE_MODULES, ids=rel)
def test_engine_module_is_under_500_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines < MAX_LINES, f"{rel(path)} has {lines} lines"


# --- the data model has one home -------------------------------------------------------------


def _lua_code(path: Path) -> str:
    """A script's code without its comments."""
    return "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())


@pytest.mark.parametrize("path", sorted(SCRIPTS.glob("*.lua")), ids=lambda p: p.name)
def test_lua_scripts_spell_no_status_and_no_ttl_default(path):
    """Statuses and TTL defaults come from states.py (S_QUEUED, CANCELABLE,
    failure_ttl_of ...), so a new status or move is a change there, not in every script."""
    from django_jobqueue.engine import states

    code = _lua_code(path)
    literals = set(re.findall(r"'([^']*)'", code)) | set(re.findall(r'"([^"]*)"', code))
    statuses = {s.value for s in states.JobStatus}
    assert literals & statuses == set(), f"{path.name} spells statuses itself"
    for default in (states.DEFAULT_FAILURE_TTL, states.DEFAULT_RESULT_TTL,
                    states.DEFAULT_TIMEOUT):
        assert not re.search(rf"\b{default}\b", code), f"{path.name} has TTL {default}"


def test_status_literal_check_reads_code_not_comments(tmp_path):
    script = tmp_path / "x.lua"
    script.write_text("-- 'queued' in a comment is fine\nif s == 'started' then return 1 end\n")
    assert set(re.findall(r"'([^']*)'", _lua_code(script))) == {"started"}


def _imports(path: Path) -> set[str]:
    """Engine modules this module imports: at module level, in a function, or for type
    hints under ``if TYPE_CHECKING:`` (a cycle hidden there is still a cycle)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(ROOT).parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = package.split(".")
        base = base[:len(base) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
        candidates = [module] + [f"{module}.{a.name}" for a in node.names]
        for name in candidates:
            if name.startswith("django_jobqueue.engine") and _module_path(name):
                found.add(name)
    return found


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _engine_import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in ENGINE_MODULES:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        graph[name] = {m for m in _imports(path) if m != name}
    return graph


def test_the_engine_has_no_import_cycle():
    """Imports between engine modules form no cycle, type-hint imports included (a
    package's __init__, which only re-exports, is left out as a target)."""
    graph = _engine_import_graph()
    inits = {n for n in graph if _module_path(n).name == "__init__.py"}
    edges = {n: sorted(deps - inits) for n, deps in graph.items()}
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for dep in edges.get(node, ()):
            visit(dep, [*path, node])
        done.add(node)

    for node in sorted(edges):
        visit(node, [])
    assert cycles == []


def test_import_graph_sees_the_worker_modules():
    graph = _engine_import_graph()
    assert "django_jobqueue.engine.worker.lease" in graph["django_jobqueue.engine.worker.loop"]
    assert "django_jobqueue.engine.steps" in graph["django_jobqueue.engine.worker.lease"]


@pytest.mark.parametrize("module", ["worker/lease.py", "worker/outages.py", "worker/info.py",
                                    "overview.py", "fields.py", "states.py", "steps.py"])
def test_read_and_maintenance_code_does_not_import_the_worker_loop(module):
    """Not even for type hints: the maintenance step reports, the loop applies."""
    source = (ENGINE / module).read_text()
    assert not re.search(r"^\s*from\s+(\.+|django_jobqueue\.engine\.)(worker\.)?loop\s+import",
                         source, re.MULTILINE)
    assert "from .loop" not in source and "import Worker\n" not in source
