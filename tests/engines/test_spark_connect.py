"""Spark Connect: `spark.remote` (config.yaml or DISTILLERY__SPARK__REMOTE) puts the engine on
a Spark Connect server, each engine in a session of its own.

The server is Spark's own Connect service, started inside the JVM of the tests' local[2]
context on a free loopback port: a real server and a real gRPC client, without a second JVM.
The client needs `pyspark[connect]`'s libraries (gRPC, zstandard); without them the tests are
skipped, naming what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distillery import Platform
from distillery.engines import spark_session
from distillery.engines.spark import SparkEngine, is_connect
from distillery.lake import xdm
from tests.conftest import event_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def connect_url(spark: Any) -> Iterator[str]:
    missing = spark_session.missing_connect_client()
    if missing:
        pytest.skip(f"the Spark Connect client needs {', '.join(missing)}, not installed "
                    "here: pip install 'pyspark[connect]'")
    context = spark.sparkContext._jsc.sc()
    # A free port on the loopback interface: other test runs may share the machine.
    context.conf().set("spark.connect.grpc.binding.address", "127.0.0.1")
    context.conf().set("spark.connect.grpc.binding.port", "0")
    package = spark.sparkContext._jvm.org.apache.spark.sql.connect.service
    package.SparkConnectService.start(context)
    service = getattr(getattr(package, "SparkConnectService$"), "MODULE$")
    try:
        yield f"sc://127.0.0.1:{service.localPort()}"
    finally:
        service.stop(getattr(service, "stop$default$1")(), getattr(service, "stop$default$2")())


def test_a_connect_url_runs_the_query_service_on_spark_connect(
        connect_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLERY__SPARK__REMOTE", connect_url)
    with Platform.open(home, engine="spark") as p:
        assert is_connect(p.engine.spark)
        p.create_dataset("events", xdm.experience_event_schema())
        p.ingest("events", event_rows(40))
        assert p.query("SELECT count(*) FROM events").scalar() == 40
        # Rows stream back (the executors' IPC messages) into batch ingestion.
        p.query("CREATE TABLE copied AS SELECT eventType, timestamp FROM events "
                "WHERE timestamp >= TIMESTAMP'2024-01-01 00:10:00'")
        assert p.query("SELECT count(*) FROM copied").scalar() == 30
        other = SparkEngine(remote=connect_url)
        try:
            assert "events" in p.engine.tables() and "events" not in other.tables()
        finally:
            other.close()
        assert other.spark.is_stopped  # an engine stops the Connect session it created
