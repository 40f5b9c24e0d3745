"""`distillery init` creates the logins, `distillery credentials` prints them, and
`distillery serve` serves psql, as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from distillery import Platform
from distillery.errors import ConfigError
from distillery.sql.pgwire import connection_info, ensure_credentials
from tests.cli.test_cli import cli
from tests.pgwire.conftest import PSQL


@pytest.mark.slow
def test_init_creates_private_credentials(home: Path) -> None:
    r = cli("init", "--json", home=home)
    assert r.returncode == 0, r.stderr
    for name in ("users.json", "pgpass"):
        assert stat.S_IMODE((home / "pgwire" / name).stat().st_mode) == 0o600
    secrets = (home / "pgwire" / "pgpass").read_text()
    assert cli("init", home=home).returncode == 0
    assert (home / "pgwire" / "pgpass").read_text() == secrets  # init keeps the passwords


@pytest.mark.slow
def test_credentials_prints_a_connection_string_and_its_parts(home: Path) -> None:
    Platform.open(home).close()
    ensure_credentials(home)
    parts = json.loads(cli("credentials", "--json", "--port", "6543", home=home).stdout)
    assert (parts["host"], parts["port"], parts["dbname"], parts["user"]) == \
        ("127.0.0.1", 6543, "prod:all", "distillery")
    assert f"password={parts['password']}" in parts["dsn"]
    assert parts["uri"].startswith("postgresql://distillery:")
    text = cli("credentials", "--role", "read-only", "--table", "events", home=home)
    assert text.returncode == 0
    assert "user=distillery_readonly" in text.stdout and "dbname=prod:events" in text.stdout
    rotated = json.loads(cli("credentials", "--rotate", "--json", home=home).stdout)
    assert rotated["password"] != parts["password"]
    with pytest.raises(ConfigError, match="role must be one of"):
        connection_info(home, "admin")


def test_serve_without_a_home_says_what_to_do(tmp_path: Path) -> None:
    r = cli("serve", "--port", "0", home=tmp_path / "nothing")
    assert r.returncode == 1 and "distillery init" in r.stderr


@pytest.mark.slow
def test_serve_answers_psql_and_stops_on_sigterm(home: Path) -> None:
    if PSQL is None:
        pytest.skip("psql is not installed here: this test runs the real psql client")
    Platform.open(home).close()
    ensure_credentials(home)
    server = subprocess.Popen(
        [sys.executable, "-m", "distillery", "serve", "--port", "0", "--json", "--home",
         str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy())
    try:
        line = server.stdout.readline()
        assert line, server.stderr.read()
        parts = connection_info(home, port=json.loads(line)["port"]).as_dict()
        r = subprocess.run([PSQL, parts["dsn"], "-X", "-A", "-t", "-c", "SHOW TABLES"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(parts["dsn"].replace(parts["password"], "guess"))
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert "failed login for user 'distillery'" in stderr and parts["password"] not in stderr
