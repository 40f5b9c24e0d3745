"""The engine interface: the one place Distillery talks to a SQL engine.

An engine serves datasets as named tables over their Parquet files and runs SQL in its own
dialect. The Query Service parses Spark SQL (the reference's dialect) with SQLGlot and hands
each engine the same statement compiled for its dialect, so the SQL a user writes, and the SQL
Distillery writes itself, is the same text on every engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import pyarrow as pa
from sqlglot import exp


class Engine(ABC):
    """A SQL engine that reads datasets from Parquet files."""

    NAME: ClassVar[str]
    DIALECT: ClassVar[str]  # the SQLGlot dialect statements are compiled to
    ERRORS: ClassVar[tuple[type[Exception], ...]]  # what the engine raises for a bad query

    @abstractmethod
    def classify(self, exc: Exception) -> tuple[str, str | None]:
        """The SQLSTATE of an engine error, and the table name when a table is missing."""

    @abstractmethod
    def scan(self, files: list[str]) -> exp.Expression:
        """A FROM-clause table expression reading `files` (Parquet, one schema): how
        snapshot ranges and training sets read exactly the files of a snapshot."""

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables and views the engine serves."""

    def transform(self, tree: exp.Expression) -> exp.Expression:
        """Engine-specific SQLGlot rewrites applied before compiling (default: none)."""
        return tree

    @abstractmethod
    def register(self, name: str, files: list[str], schema: pa.Schema) -> None:
        """Serve `files` (all with `schema`) as the table `name`, replacing what was there."""

    @abstractmethod
    def unregister(self, name: str) -> None:
        """Stop serving the table `name`, if it is served."""

    @abstractmethod
    def cursor(self) -> Any:
        """A session handle whose queries can be cancelled together (`interrupt()`)."""

    @abstractmethod
    def reader(self, sql: str, params: dict[str, Any] | None = None,
               batch_size: int = 100_000, cursor: Any = None) -> pa.RecordBatchReader:
        """Run a query (on `cursor`, or a new one) and stream its rows."""

    @abstractmethod
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns no rows (views, settings)."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources."""
