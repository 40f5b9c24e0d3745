"""Data Distiller statements through the wire: CTAS and INSERT, SNAPSHOT reads, anonymous
blocks, template SQL with bound parameters, samples. Each test first checks that the Query
Service has the feature, and skips with the reason when it does not (yet)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from sqlglot import exp

from distillery import Platform
from distillery.errors import QueryError
from distillery.sql.pgwire import ServerThread, ensure_credentials, running
from distillery.synth import generate
from tests.pgwire.conftest import connect, psql, psql_rows
from tests.sql.test_reference import TRAINING_FILTER, features_sql

T = "experience_events"


@pytest.fixture(scope="module")
def dd_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 users in two batches (two snapshots); tests here write to it."""
    home = tmp_path_factory.mktemp("distiller") / "home"
    with Platform.open(home) as platform:
        generate(platform, 200, 11, as_of=date(2025, 3, 1), batch_users=100)
    ensure_credentials(home)
    return home


@pytest.fixture(scope="module")
def dd_server(dd_home: Path) -> Iterator[ServerThread]:
    with running(dd_home) as thread:
        yield thread


@pytest.fixture(scope="module")
def dd_local(dd_home: Path) -> Iterator[Platform]:
    platform = Platform.open(dd_home, create=False)
    yield platform
    platform.close()


def requires(platform: Platform, feature: str, probe: str) -> None:
    """Skip, saying why, unless the Query Service runs `probe` (a read)."""
    try:
        platform.sql.execute(probe, None, platform.sql.session())
    except QueryError as exc:
        pytest.skip(f"{feature} is not in the Query Service yet ({exc.sqlstate}: {exc})")


def snapshots(platform: Platform) -> list[int]:
    return [r[0] for r in platform.query(
        f"SELECT snapshot_id FROM (SELECT history_meta('{T}')) "
        "ORDER BY snapshot_generation").rows()]


def test_create_table_as_and_insert_through_psql(dd_server: ServerThread,
                                                 dd_local: Platform) -> None:
    if exp.Create not in dd_local.sql.handlers:
        pytest.skip("CREATE TABLE AS is not in the Query Service yet")
    query = f"SELECT * FROM ({features_sql(T)}) WHERE {TRAINING_FILTER}"
    users = dd_local.query(f"SELECT count(DISTINCT _tenant.userid) FROM {T}").scalar()
    result = psql(dd_server, "-c", f"CREATE TABLE training_set AS ({query})")
    assert result.returncode == 0, result.stderr
    assert psql_rows(dd_server, "SELECT count(*) FROM training_set") == [[str(users)]]
    assert "training_set" in [r[1] for r in psql_rows(dd_server, r"\dt")]
    assert psql(dd_server, "-c", f"INSERT INTO training_set {query}").returncode == 0
    assert psql_rows(dd_server, "SELECT count(*) FROM training_set") == [[str(2 * users)]]
    assert dd_local.dataset("training_set").table_name == "training_set"


def test_snapshot_reads_with_bound_snapshot_ids(dd_server: ServerThread,
                                                dd_local: Platform) -> None:
    requires(dd_local, "SNAPSHOT", f"SELECT count(*) FROM {T} SNAPSHOT AS OF HEAD")
    ids = snapshots(dd_local)
    assert len(ids) >= 2
    with connect(dd_server) as conn:
        for snapshot in ids:
            sql = f"SELECT count(*) FROM {T} SNAPSHOT AS OF {snapshot}"
            got = conn.execute(f"SELECT count(*) FROM {T} SNAPSHOT AS OF %s",
                               [snapshot]).fetchone()
            assert got == (dd_local.query(sql).scalar(),)
        between = conn.execute(f"SELECT count(*) FROM {T} SNAPSHOT BETWEEN %s AND %s",
                               [ids[0], ids[-1]]).fetchone()
    assert between == (dd_local.query(
        f"SELECT count(*) FROM {T} SNAPSHOT BETWEEN {ids[0]} AND {ids[-1]}").scalar(),)


BLOCK = """$$ BEGIN
SET @exists = SELECT table_exists('{target}');
CREATE TABLE IF NOT EXISTS {target} AS
  SELECT eventType, count(*) AS n FROM experience_events {snapshot} GROUP BY eventType;
INSERT INTO {target}
  SELECT eventType, count(*) AS n FROM experience_events {snapshot}
  WHERE @exists = 't' GROUP BY eventType;
EXCEPTION
  WHEN OTHER THEN SELECT 'ERROR';
END $$"""


def test_anonymous_block_through_psql(dd_server: ServerThread, dd_local: Platform) -> None:
    requires(dd_local, "anonymous blocks", "$$ BEGIN SELECT 1; END $$")
    block = BLOCK.format(target="by_type", snapshot="")
    for _ in range(2):  # the second run finds the table and inserts
        result = psql(dd_server, "-c", block)
        assert result.returncode == 0, result.stderr
    kinds = dd_local.query(f"SELECT count(DISTINCT eventType) FROM {T}").scalar()
    assert psql_rows(dd_server, "SELECT count(*) FROM by_type") == [[str(2 * kinds)]]


def test_template_sql_with_driver_parameters(dd_server: ServerThread,
                                             dd_local: Platform) -> None:
    # A template's `$name` parameters, written as the driver's own placeholders: the
    # values travel as bound parameters, into the block and its SNAPSHOT clause.
    requires(dd_local, "SNAPSHOT in blocks", f"$$ BEGIN SELECT count(*) FROM {T} "
                                             "SNAPSHOT AS OF HEAD; END $$")
    ids = snapshots(dd_local)
    block = BLOCK.format(target="increment", snapshot="SNAPSHOT BETWEEN %(from)s AND %(to)s")
    with connect(dd_server) as conn:
        conn.execute(block, {"from": ids[0], "to": ids[-1]})
        got = conn.execute("SELECT sum(n) FROM increment").fetchone()[0]
        hostile = "0'; DROP TABLE increment; --"
        with pytest.raises(psycopg.Error):
            conn.execute(f"SELECT count(*) FROM {T} SNAPSHOT AS OF %s", [hostile])
        assert conn.execute("SELECT sum(n) FROM increment").fetchone()[0] == got
    expected = dd_local.query(f"SELECT count(*) FROM {T} SNAPSHOT BETWEEN {ids[0]} AND "
                              f"{ids[-1]}").scalar()
    assert got == expected


def test_sample_with_analyze_and_sample_meta(dd_server: ServerThread,
                                             dd_local: Platform) -> None:
    requires(dd_local, "sample_meta", f"SELECT sample_meta('{T}')")
    with connect(dd_server) as conn, connect(dd_server, role="read-only") as ro:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            ro.execute(f"ANALYZE TABLE {T} TABLESAMPLE SAMPLERATE 0.05")
        conn.execute(f"ANALYZE TABLE {T} TABLESAMPLE SAMPLERATE 0.05")
        meta = conn.execute(f"SELECT sample_table_name, sample_num_rows FROM "
                            f"(SELECT sample_meta('{T}'))").fetchall()
        assert len(meta) == 1
        name, rows = meta[0]
        assert conn.execute(f"SELECT count(*) FROM {name}").fetchone() == (rows,)


def test_views_are_queryable_and_described(dd_server: ServerThread,
                                           dd_local: Platform) -> None:
    if not hasattr(dd_local.sql, "views"):
        pytest.skip("CREATE VIEW is not in the Query Service yet")
    with connect(dd_server) as conn:
        conn.execute(f"CREATE VIEW converters AS SELECT DISTINCT _tenant.userid AS userid "
                     f"FROM {T} WHERE eventType = 'web.formFilledOut'")
        count = conn.execute("SELECT count(*) FROM converters").fetchone()
    assert count == (dd_local.query(f"SELECT count(DISTINCT _tenant.userid) FROM {T} "
                                    "WHERE eventType = 'web.formFilledOut'").scalar(),)
    assert psql_rows(dd_server, r"\dv") == [["public", "converters", "view", "distillery"]]
    described = psql(dd_server, "-c", r"\d converters")
    assert described.returncode == 0 and "userid" in described.stdout
