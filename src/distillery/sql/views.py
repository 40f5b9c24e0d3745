"""Views: `CREATE [OR REPLACE] VIEW v AS SELECT ...` and `DROP VIEW [IF EXISTS] v`.

A view is kept in the catalog's `views` table as Spark SQL text, so it survives restarts and
can be compiled for any engine; each Query Service creates it in its engine when it syncs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import sqlglot
from sqlglot import exp

from distillery.errors import DistilleryError, QueryError, UnknownTableError
from distillery.lake.catalog import now_iso
from distillery.sql.errors import DuplicateTableError, ParameterError, WrongObjectTypeError
from distillery.sql.preprocess import SNAPSHOT_FUNCTION
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

_log = logging.getLogger(__name__)


class Views:
    """The views of one sandbox and the engine copies of them."""

    def __init__(self, service: QueryService) -> None:
        self.service = service
        self._served: dict[str, str] = {}  # name -> Spark SQL the engine view was made from

    def records(self) -> dict[str, str]:
        """Every view: name -> its query as Spark SQL."""
        with self.service.lake.catalog.connect() as con:
            rows = con.execute("SELECT name, sql FROM views ORDER BY created_at").fetchall()
        return {r["name"]: r["sql"] for r in rows}

    def names(self) -> list[str]:
        """The names of every view."""
        return list(self.records())

    def create(self, session: Session, stmt: exp.Create) -> Result:
        """CREATE [OR REPLACE] VIEW [IF NOT EXISTS] v AS query."""
        self.service.sync()  # the view's query may read datasets no statement has read yet
        name = stmt.this.name.lower()
        query = stmt.expression
        if self.service.lake.catalog.find_dataset(name) is not None:
            raise DuplicateTableError(f"{name} is a dataset; a view needs another name")
        if name in self.records():
            if stmt.args.get("exists"):
                return Result.message("CREATE VIEW")
            if not stmt.args.get("replace"):
                raise DuplicateTableError(f"view {name} exists already; use CREATE OR REPLACE "
                                          "VIEW")
        if query.find(exp.Placeholder):
            raise ParameterError(f"view {name} cannot use parameters or variables; a view is "
                                 "stored and runs later without them")
        if any(f.name.lower() == SNAPSHOT_FUNCTION for f in query.find_all(exp.Anonymous)):
            raise QueryError(f"view {name} cannot read a SNAPSHOT range: a view always reads "
                             "the current snapshot", sqlstate="0A000")
        text = query.sql("spark")
        self.service.sync()
        self._make(name, text)
        with self.service.lake.catalog.connect() as con:
            con.execute("INSERT INTO views (name, sql, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET sql = excluded.sql", (name, text,
                                                                            now_iso()))
        return Result.message("CREATE VIEW")

    def drop(self, name: str, if_exists: bool) -> Result:
        """DROP VIEW [IF EXISTS] v."""
        name = name.lower()
        if name not in self.records():
            if self.service.lake.catalog.find_dataset(name) is not None:
                raise WrongObjectTypeError(f"{name} is a dataset, not a view; use DROP TABLE")
            if if_exists:
                return Result.message("DROP VIEW")
            raise UnknownTableError(f"view {name} does not exist in sandbox "
                                    f"{self.service.sandbox!r}")
        with self.service.lake.catalog.connect() as con:
            con.execute("DELETE FROM views WHERE name = ?", (name,))
        self._unmake(name)
        return Result.message("DROP VIEW")

    def sync(self) -> None:
        """Make the engine's views match the catalog (views made by other processes, or
        before a restart). A view whose tables are gone stays unserved until they return."""
        wanted = self.records()
        for name in set(self._served) - set(wanted):
            self._unmake(name)
        pending = {n: q for n, q in wanted.items() if self._served.get(n) != q}
        while pending:
            made = []
            for name, text in pending.items():
                try:
                    self._make(name, text)
                    made.append(name)
                except DistilleryError as exc:
                    _log.debug("view %s is not served: %s", name, exc)
            if not made:
                break
            pending = {n: q for n, q in pending.items() if n not in made}

    def _make(self, name: str, text: str) -> None:
        service = self.service
        query = cast(exp.Expression, sqlglot.parse_one(text, read="spark"))
        resolved = service.resolve(query, {})
        create = exp.Create(kind="VIEW", replace=True, this=exp.to_table(name, quoted=True),
                            expression=resolved)
        try:
            # Compiled through the engine's own fixes: Spark serves datasets as temporary
            # views, and a view over them must be temporary too.
            service.engine.execute(service.compile(create))
        except Exception as exc:
            raise _as_query_error(service, exc) from None
        self._served[name] = text

    def _unmake(self, name: str) -> None:
        drop = exp.Drop(kind="VIEW", exists=True, tables=[exp.to_table(name, quoted=True)])
        self.service.engine.execute(drop.sql(self.service.engine.DIALECT))
        self._served.pop(name, None)


def _as_query_error(service: QueryService, exc: Exception) -> QueryError:
    return exc if isinstance(exc, QueryError) else service.translate(exc)

