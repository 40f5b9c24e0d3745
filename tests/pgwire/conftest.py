"""Fixtures for the PostgreSQL endpoint: a home with synthetic data, a server on a free port
of 127.0.0.1, connection strings, and the real psql client."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from distillery import Platform
from distillery.lake import xdm
from distillery.sql.pgwire import ServerThread, connection_info, ensure_credentials, running
from distillery.synth import generate
from tests.conftest import ECID_B, event_rows

PSQL = shutil.which("psql")
USERS = 300


@pytest.fixture(scope="session")
def pg_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the reference's synthetic datasets (300 users); read only in tests."""
    home = tmp_path_factory.mktemp("pgwire") / "home"
    with Platform.open(home) as platform:
        generate(platform, USERS, 7, as_of=date(2025, 3, 1))
    ensure_credentials(home)
    return home


@pytest.fixture(scope="session")
def server(pg_home: Path) -> Iterator[ServerThread]:
    """The endpoint over `pg_home`, on a free port."""
    with running(pg_home) as thread:
        yield thread


@pytest.fixture(scope="session")
def local(pg_home: Path) -> Iterator[Platform]:
    """The same home opened in process: what results through the wire must equal."""
    platform = Platform.open(pg_home, create=False)
    yield platform
    platform.close()


@pytest.fixture
def small_home(tmp_path: Path) -> Path:
    """A fresh home with five events and credentials (for tests that write or rotate)."""
    home = tmp_path / "home"
    with Platform.open(home) as platform:
        ds = platform.create_dataset("events", xdm.experience_event_schema(),
                                     profile_enabled=True)
        platform.ingest(ds, event_rows(3) + event_rows(2, ECID_B,
                                                       event_type="commerce.purchases"))
    ensure_credentials(home)
    return home


def dsn(server: ServerThread, role: str = "read-write", table: str = "all", **extra: Any) -> str:
    """A connection string for `server` (extra key=value pairs override)."""
    info = connection_info(server.server.home, role, port=server.port, table=table)
    parts = {"host": info.host, "port": info.port, "dbname": info.dbname, "user": info.user,
             "password": info.password, "sslmode": "disable", "connect_timeout": 10, **extra}
    return " ".join(f"{k}={v}" for k, v in parts.items())


def connect(server: ServerThread, role: str = "read-write", **extra: Any) -> psycopg.Connection:
    """A psycopg 3 connection in autocommit mode."""
    return psycopg.connect(dsn(server, role), autocommit=True, **extra)


def psql(server: ServerThread, *args: str, role: str = "read-write", stdin: str | None = None,
         timeout: float = 60, conninfo: str | None = None) -> subprocess.CompletedProcess:
    """Run the real psql client (unaligned, tuples only, stop on the first error)."""
    if PSQL is None:
        pytest.skip("psql is not installed here: the tests with the real psql client need it "
                    "(apt-get install postgresql-client)")
    argv = [PSQL, conninfo or dsn(server), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            *args]
    return subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=timeout)


def psql_rows(server: ServerThread, sql: str, **kwargs: Any) -> list[list[str]]:
    """The rows psql prints for `sql`, split on `|`; the call must succeed."""
    result = psql(server, "-c", sql, **kwargs)
    assert result.returncode == 0, result.stderr
    return [line.split("|") for line in result.stdout.splitlines() if line]
