"""Logins, roles and transport: SCRAM against stored verifiers, failed logins logged and
slowed, a read-only role that cannot write, nothing before authentication, TLS."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import psycopg
import pytest

from distillery import Platform
from distillery.sql.pgwire import (
    CredentialStore,
    ServerOptions,
    ServerThread,
    connection_info,
    running,
)
from distillery.sql.pgwire.auth import LoginThrottle
from distillery.sql.pgwire.tls import certificate_paths
from tests.pgwire import raw
from tests.pgwire.conftest import dsn, psql
from tests.pgwire.raw import RawClient


def test_listens_on_loopback_by_default(server: ServerThread) -> None:
    assert ServerOptions().host == "127.0.0.1"
    assert server.server._server.sockets[0].getsockname()[0] == "127.0.0.1"


def test_wrong_password_is_refused_and_logged(server: ServerThread,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="distillery.pgwire.auth"), \
            pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn(server, password="wrong-password"))
    assert any("failed login for user 'distillery'" in r.getMessage() for r in caplog.records)
    assert not any("wrong-password" in r.getMessage() for r in caplog.records)
    result = psql(server, "-c", "SELECT 1", conninfo=dsn(server, password="nope"))
    assert result.returncode != 0 and "password authentication failed" in result.stderr


def test_unknown_user_fails_like_a_wrong_password(server: ServerThread) -> None:
    with pytest.raises(psycopg.OperationalError, match='failed for user "mallory"'):
        psycopg.connect(dsn(server, user="mallory"))


def test_failed_logins_from_a_host_wait_longer_each_time() -> None:
    throttle = LoginThrottle(base=0.25, cap=2.0, window=60)
    delays = [throttle.failed("10.0.0.1", now=float(t))[1] for t in range(6)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert throttle.failed("10.0.0.2", now=5.0) == (1, 0.25)  # per host
    assert throttle.failed("10.0.0.1", now=500.0) == (1, 0.25)  # old failures forgotten
    throttle.succeeded("10.0.0.1")
    assert throttle.failed("10.0.0.1", now=501.0) == (1, 0.25)


def test_no_sql_reaches_the_engine_before_authentication(server: ServerThread) -> None:
    client = RawClient(server.port)
    try:
        client.startup("distillery", "prod:all")
        assert client.read()[0] == b"R"  # the SASL challenge
        client.send(raw.query("SELECT 1"))  # instead of answering it
        replies = client.read_until(b"")
        assert [t for t, _ in replies] == [b"E", b""]
        assert raw.error_code(replies[0][1]) == "28P01"
    finally:
        client.close()


def test_read_only_role_cannot_write(small_home: Path) -> None:
    with running(small_home) as srv:
        ro = psycopg.connect(dsn(srv, role="read-only"), autocommit=True)
        rw = psycopg.connect(dsn(srv), autocommit=True)
        try:
            assert ro.execute("SELECT count(*) FROM events").fetchone() == (5,)
            assert ro.execute("SHOW transaction_read_only").fetchone() == ("on",)
            for write in ("CREATE TABLE copy AS SELECT * FROM events",
                          "INSERT INTO events SELECT * FROM events", "DROP TABLE events"):
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    ro.execute(write)
            assert ro.execute("SELECT count(*) FROM events").fetchone() == (5,)
            rw.execute("CREATE TABLE copy AS SELECT * FROM events")
            assert rw.execute("SELECT count(*) FROM copy").fetchone() == (5,)
        finally:
            ro.close()
            rw.close()
    with Platform.open(small_home, create=False) as platform:
        assert sorted(d.table_name for d in platform.datasets()) == ["copy", "events"]


def test_credential_files_are_private_and_hold_no_password(small_home: Path) -> None:
    store = CredentialStore(small_home)
    password = store.credential("read-write").password
    for path in (store.users_path, store.pass_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.users_path.parent.stat().st_mode) == 0o700
    users = json.loads(store.users_path.read_text())["users"]
    assert set(users) == {"distillery", "distillery_readonly"}
    assert password not in store.users_path.read_text()
    assert users["distillery"]["mechanism"] == "SCRAM-SHA-256"


def test_rotation_replaces_the_password_at_once(small_home: Path) -> None:
    with running(small_home) as srv:
        old = dsn(srv)
        psycopg.connect(old).close()
        CredentialStore(small_home).rotate("read-write")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(old)
        psycopg.connect(dsn(srv)).close()


def test_tls_with_the_generated_certificate(small_home: Path) -> None:
    with running(small_home, tls=True) as srv:
        cert, key = certificate_paths(small_home)
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        secure = dsn(srv, sslmode="verify-full", sslrootcert=str(cert))
        with psycopg.connect(secure, autocommit=True) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT count(*) FROM events").fetchone() == (5,)
        result = psql(srv, "-c", "SELECT 1", conninfo=secure)
        assert result.returncode == 0 and result.stdout.strip() == "1"


def test_required_tls_refuses_plain_connections(small_home: Path) -> None:
    with running(small_home, require_tls=True) as srv:
        with pytest.raises(psycopg.OperationalError, match="TLS"):
            psycopg.connect(dsn(srv, sslmode="disable"))
        info = connection_info(small_home, port=srv.port, tls=True)
        assert info.sslmode == "require"
        with psycopg.connect(info.dsn) as conn:
            assert conn.pgconn.ssl_in_use


def test_clients_beyond_the_limit_are_refused(small_home: Path) -> None:
    with running(small_home, max_connections=1) as srv, psycopg.connect(dsn(srv)) as first:
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            psycopg.connect(dsn(srv))
        assert first.execute("SELECT 1").fetchone() == (1,)
