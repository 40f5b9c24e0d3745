"""`Platform`: the one entry point. It opens a home folder and one sandbox in it, and hands out
the sandbox's lake (datasets, batches) and Query Service.

    platform = Platform.open("./.distillery")            # or $DISTILLERY_HOME
    platform.create_dataset("events", xdm.experience_event_schema(), profile_enabled=True)
    platform.ingest("events", "events.jsonl")
    platform.query("SELECT eventType, count(*) FROM events GROUP BY 1").df()

Everything the platform keeps (catalog, data, models, runs, logs) lives under the home:

    {home}/config.yaml
    {home}/sandboxes/{sandbox}/catalog.db, datasets/, models/, runs/, logs/
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

from distillery import config as config_mod
from distillery.console import Console, SilentConsole
from distillery.engines.base import Engine
from distillery.errors import ConfigError, NotFoundError
from distillery.lake.catalog import BatchRecord, Catalog, DatasetRecord
from distillery.lake.datasets import Lake
from distillery.lake.ingest import Batch
from distillery.lake.schema import Schema
from distillery.sql.result import Result
from distillery.sql.service import QueryService

DEFAULT_HOME = ".distillery"
# Modules downstream of the Query Service that add statements to it (each has
# `install(service, platform)`); the facade wires them so `sql/` never imports them.
SQL_EXTENSIONS: list[str] = ["distillery.audiences.sql", "distillery.ml.sql",
                             "distillery.profiles.service"]
HOME_ENV = "DISTILLERY_HOME"
ENGINES = ("duckdb", "spark")
_SANDBOX = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SANDBOX_DIRS = ("datasets", "models", "runs", "logs")


def resolve_home(home: str | Path | None = None) -> Path:
    """The home folder: the argument, else $DISTILLERY_HOME, else ./.distillery."""
    return Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().absolute()


class Platform:
    """One sandbox of one home: its lake, Query Service and configuration."""

    def __init__(self, home: Path, sandbox: str, config: config_mod.Config,
                 console: Console | None = None) -> None:
        self.home = home
        self.sandbox = sandbox
        self.config = config
        self.console: Console = console or SilentConsole()
        self.root = home / "sandboxes" / sandbox
        self.catalog = Catalog(self.root / "catalog.db")
        self.lake = Lake(self.root, self.catalog)
        self._engine: Engine | None = None
        self._sql: QueryService | None = None

    @classmethod
    def open(cls, home: str | Path | None = None, sandbox: str | None = None, *,
             create: bool = True, console: Console | None = None,
             engine: str | None = None) -> Platform:
        """Open (and, unless `create=False`, create) a home and one of its sandboxes.

        `engine` ("duckdb" or "spark") overrides the configured engine for this platform.
        """
        path = resolve_home(home)
        if not create and not (path / config_mod.CONFIG_FILE).exists():
            raise NotFoundError(f"no Distillery home at {path}; run `distillery init` first")
        fresh = not (path / config_mod.CONFIG_FILE).exists()
        path.mkdir(parents=True, exist_ok=True)
        if fresh:
            config_mod.save(path, config_mod.Config())
        cfg = config_mod.load(path)
        if engine is not None:
            if engine not in ENGINES:
                raise ConfigError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
            cfg = cfg.model_copy(update={"engine": engine})
        name = sandbox or cfg.default_sandbox
        if not _SANDBOX.match(name):
            raise ConfigError(f"sandbox name {name!r} is invalid: use lower-case letters, "
                              "digits and '-'")
        root = path / "sandboxes" / name
        if not create and not root.exists():
            raise NotFoundError(f"sandbox {name!r} does not exist in {path}")
        for sub in _SANDBOX_DIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        return cls(path, name, cfg, console)

    def sandboxes(self) -> list[str]:
        """The sandboxes of this home."""
        return sorted(p.name for p in (self.home / "sandboxes").iterdir() if p.is_dir())

    @property
    def tenant(self) -> str:
        """The tenant id: tenant fields live under `_{tenant}`."""
        return self.config.tenant

    # Engine and Query Service ----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The query engine (DuckDB unless configured otherwise), started on first use."""
        if self._engine is None:
            if self.config.engine == "spark":
                from distillery.engines.spark import SparkEngine

                spark = self.config.spark
                self._engine = SparkEngine(spark.master, spark.remote, spark.conf)
            else:
                from distillery.engines.duckdb import DuckDBEngine

                self._engine = DuckDBEngine(self.config.duckdb.threads,
                                            self.config.duckdb.memory_limit)
        return self._engine

    @property
    def sql(self) -> QueryService:
        """The Query Service of this sandbox, with the SQL statements of later steps (SQL
        models, SQL audiences) installed."""
        if self._sql is None:
            self._sql = QueryService(self.lake, self.engine, self.sandbox)
            for name in SQL_EXTENSIONS:
                module = importlib.import_module(name)
                module.install(self._sql, self)
        return self._sql

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        """Run Spark SQL (one or more statements) and return the last statement's result."""
        return self.sql.query(sql, params)

    # Datasets and batches (delegated to the lake) ---------------------------------------------

    def create_dataset(self, name: str, schema: Schema, **options: Any) -> DatasetRecord:
        """Create a dataset; see `Lake.create_dataset` for the options."""
        return self.lake.create_dataset(name, schema, **options)

    def dataset(self, key: str) -> DatasetRecord:
        """A dataset by id, name or table name."""
        return self.lake.dataset(key)

    def datasets(self) -> list[DatasetRecord]:
        """Every dataset of the sandbox."""
        return self.lake.datasets()

    def drop_dataset(self, key: str) -> DatasetRecord:
        """Delete a dataset and everything in it."""
        return self.lake.drop_dataset(key)

    def create_batch(self, dataset: str | DatasetRecord, batch_id: str | None = None,
                     **options: Any) -> Batch:
        """Open a batch into a dataset; see `Lake.create_batch`."""
        return self.lake.create_batch(dataset, batch_id, **options)

    def ingest(self, dataset: str | DatasetRecord, *data: Any, **options: Any) -> BatchRecord:
        """Ingest files or frames into a dataset as one batch; see `Lake.ingest`."""
        return self.lake.ingest(dataset, *data, **options)

    def batch(self, batch_id: str) -> BatchRecord:
        """A batch by id."""
        return self.lake.batch(batch_id)

    def close(self) -> None:
        """Release the engine."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
            self._sql = None

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
