"""An embedded DuckDB for the queries some rooms compile for DuckDB whatever engine the
platform runs (profile merges, scoring's ranks): they read Parquet files directly, so they
need no Spark, and a small local engine beats shipping them to a cluster."""

from __future__ import annotations

import weakref
from typing import Any

from distillery.engines.base import Engine

_LOCAL: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()


def duckdb_for(platform: Any) -> Engine:
    """The platform's engine when it is DuckDB, else one embedded DuckDB per platform
    (configured by the platform's `duckdb` settings, closed with the process)."""
    if platform.engine.DIALECT == "duckdb":
        return platform.engine
    local = _LOCAL.get(platform)
    if local is None:
        from distillery.engines.duckdb import DuckDBEngine

        local = DuckDBEngine(platform.config.duckdb.threads, platform.config.duckdb.memory_limit)
        _LOCAL[platform] = local
    return local
