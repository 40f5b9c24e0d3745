"""The reference's EDA and featurization queries (shared/reference/WORKFLOW.md, section 2)
through the real psql client; each result must equal the same query run in process."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from distillery import Platform
from distillery.sql.pgwire import ServerThread
from tests.pgwire.conftest import psql, psql_rows
from tests.sql.test_reference import TRAINING_FILTER, features_sql

T = "experience_events"
FUNNEL = (f"SELECT eventType, COUNT(DISTINCT _tenant.userid) AS distinctUsers, "
          f"COUNT(*) AS distinctEvents FROM {T} WHERE eventType IN ("
          "'directMarketing.emailSent', 'directMarketing.emailOpened', "
          "'directMarketing.emailClicked', 'web.formFilledOut') "
          "GROUP BY eventType ORDER BY distinctUsers DESC, eventType")
CO_OCCURRENCE = (f"SELECT a.eventType AS eventType1, b.eventType AS eventType2, "
                 f"COUNT(DISTINCT a._tenant.userid) AS users FROM {T} a JOIN {T} b "
                 "ON a._tenant.userid = b._tenant.userid AND a.timestamp <= b.timestamp "
                 "GROUP BY a.eventType, b.eventType ORDER BY 1, 2")
CORRELATION = (
    "SELECT corr(sent, converted) AS r_sent, corr(opened, converted) AS r_opened, "
    "corr(views, converted) AS r_views FROM (SELECT _tenant.userid AS userId, "
    "SUM(CASE WHEN eventType = 'directMarketing.emailSent' THEN 1 ELSE 0 END) AS sent, "
    "SUM(CASE WHEN eventType = 'directMarketing.emailOpened' THEN 1 ELSE 0 END) AS opened, "
    "SUM(CASE WHEN eventType = 'web.webpagedetails.pageViews' THEN 1 ELSE 0 END) AS views, "
    "MAX(CASE WHEN eventType = 'web.formFilledOut' THEN 1 ELSE 0 END) AS converted "
    f"FROM {T} GROUP BY _tenant.userid)")


def same(cell: str, want: Any) -> bool:
    """Whether psql's text for a cell is the in-process value."""
    if want is None:
        return cell == ""
    if isinstance(want, bool):
        return cell == ("t" if want else "f")
    if isinstance(want, float):
        return float(cell) == pytest.approx(want, rel=1e-12)
    if isinstance(want, int | Decimal):
        return Decimal(cell) == Decimal(want)
    if isinstance(want, datetime):
        return datetime.fromisoformat(cell) == want
    return cell == str(want)


def assert_same_rows(got: list[list[str]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for row, expected in zip(got, want, strict=True):
        assert len(row) == len(expected)
        assert all(same(c, w) for c, w in zip(row, expected, strict=True)), (row, expected)


@pytest.mark.parametrize("sql", [
    f"SELECT _id, eventType, timestamp FROM {T} ORDER BY _id LIMIT 10",
    f"SELECT COUNT(*) AS totalRows, COUNT(DISTINCT _tenant.userid) AS distinctUsers FROM {T}",
    FUNNEL,
    CO_OCCURRENCE,
    CORRELATION,
], ids=["preview", "totals", "funnel", "co-occurrence", "correlation"])
def test_eda_query_through_psql(server: ServerThread, local: Platform, sql: str) -> None:
    assert_same_rows(psql_rows(server, sql), local.query(sql).rows())


def test_preview_with_auto_to_json(server: ServerThread, local: Platform) -> None:
    sql = f"SELECT _id, identityMap, _tenant, web FROM {T} ORDER BY _id LIMIT 5"
    rows = psql_rows(server, f"SET auto_to_json=true; {sql}")
    expected = local.query(sql).arrow().to_pylist()
    assert len(rows) == len(expected) == 5
    for (row_id, identity, tenant, web), want in zip(rows, expected, strict=True):
        assert row_id == want["_id"]
        assert json.loads(tenant) == want["_tenant"]
        ecid = json.loads(identity)["ECID"][0]
        assert ecid["id"] == dict(want["identityMap"])["ECID"][0]["id"]
        assert (json.loads(web) if web else None) == want["web"]


def test_featurization_and_training_rows_through_psql(server: ServerThread,
                                                      local: Platform) -> None:
    # Random row numbers differ run to run: compare everything else, and the training
    # set's size (one row per user).
    features = f"SELECT * FROM ({features_sql(T)}) ORDER BY userId, timestamp, eventType"
    got = psql_rows(server, features)
    want = local.query(features).rows()
    assert_same_rows([r[:-1] for r in got], [w[:-1] for w in want])
    training = f"SELECT count(*), count(DISTINCT userId) FROM ({features_sql(T)}) " \
               f"WHERE {TRAINING_FILTER}"
    count, users = psql_rows(server, training)[0]
    assert int(count) == int(users) == local.query(
        f"SELECT count(DISTINCT _tenant.userid) FROM {T}").scalar()


def test_show_tables_and_describe_through_psql(server: ServerThread, local: Platform) -> None:
    names = [r[0] for r in psql_rows(server, "SHOW TABLES")]
    assert names == [r[0] for r in local.query("SHOW TABLES").rows()]
    described = psql_rows(server, f"DESCRIBE {T}")
    assert [r[0] for r in described] == local.dataset(T).schema.to_arrow().names


def test_psql_reports_errors_and_the_script_goes_on(server: ServerThread) -> None:
    script = f"SELECT nope FROM {T};\nSELECT count(*) > 0 FROM {T};\n"
    result = psql(server, "-v", "ON_ERROR_STOP=0", stdin=script)
    assert "ERROR" in result.stderr and "nope" in result.stderr
    assert result.stdout.split() == ["t"]
