"""One local[2] Spark context for every Spark test of a pytest run.

Starting Spark takes ~10 s and the machines are shared, so the context is started once per
session; each Platform on the Spark engine gets its own session on it (its own temporary views),
and closing a platform leaves the context running (Spark stops when its last user, here the
session fixture, lets go).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

# The test context is started the way an engine starts one (`spark_session.attach`: loopback,
# no UI, UTC, the driver's heap from the machine's memory), on two cores, with fewer shuffle
# partitions for small data.
TEST_CONF = {"spark.sql.shuffle.partitions": "4"}


def why_no_spark() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'distillery[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed: Spark needs a Java 17 runtime"
    return None


def spark_context() -> Iterator[Any]:
    """Start (or join) the local[2] context; stop it at the end if it was started here and no
    engine still uses it."""
    reason = why_no_spark()
    if reason:
        print(f"skipping Spark tests: {reason}")  # the reason must be seen
        pytest.skip(reason)
    from distillery.engines import spark_session

    attached = spark_session.attach("local[2]", None, TEST_CONF)
    attached.session.sparkContext.setLogLevel("ERROR")
    yield attached.session
    spark_session.release(attached)
