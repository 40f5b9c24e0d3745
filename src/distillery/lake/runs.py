"""Run records in the catalog: one table of runs (dataflow runs, audience evaluation jobs,
activation runs), each row one dataclass record.

The rooms that record runs differ in their table, columns and states, not in how a run is
kept: a row is inserted when the run starts, columns are updated as it progresses and when it
finishes, and runs are read back one by key or listed newest first. `RunTable` does that once.
Dict fields are stored as JSON in a column named `{field}_json`, bool fields as 0/1.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from distillery.errors import NotFoundError
from distillery.lake.catalog import Catalog

R = TypeVar("R")


@dataclass(frozen=True)
class RunTable(Generic[R]):
    """Typed access to one catalog table of run records.

    Attributes:
        catalog: The sandbox's catalog.
        table: The table's name (from a migration, never from user input).
        record: The dataclass a row reads into; its fields are the table's columns.
        noun: What a run is called in messages ("dataflow run", "evaluation job").
        order: The ORDER BY of `select`, newest first.
        keys: The columns `find` matches a key against (any of them).
        json_fields: Fields stored as JSON text in the column `{field}_json`.
        bool_fields: Fields stored as 0/1.
    """

    catalog: Catalog
    table: str
    record: type[R]
    noun: str
    order: str = "started_at DESC, rowid DESC"
    keys: tuple[str, ...] = ("id",)
    json_fields: tuple[str, ...] = ("details",)
    bool_fields: tuple[str, ...] = ()

    def start(self, run: R, columns: Iterable[str], *, restart: Iterable[str] = ()) -> int:
        """Insert a run's row with those columns; return its rowid.

        Args:
            run: The record.
            columns: The fields to store now (the others keep their column defaults).
            restart: Without it, a run id recorded already is an error. With it, that row
                starts over: the inserted columns are overwritten and these set to NULL.
        """
        values = self._encode({c: getattr(run, c) for c in columns})
        sql = (f"INSERT INTO {self.table} ({', '.join(values)})"
               f" VALUES ({', '.join('?' for _ in values)})")
        resets = tuple(restart)
        if resets:
            sets = [f"{c} = excluded.{c}" for c in values if c != self.keys[0]]
            sets += [f"{c} = NULL" for c in resets]
            sql += f" ON CONFLICT({self.keys[0]}) DO UPDATE SET {', '.join(sets)}"
        with self.catalog.connect() as con:
            return int(con.execute(sql, list(values.values())).lastrowid or 0)

    def update(self, key: Any, **values: Any) -> None:
        """Change columns of the run whose first key column is `key`."""
        encoded = self._encode(values)
        sets = ", ".join(f"{c} = ?" for c in encoded)
        with self.catalog.connect() as con:
            con.execute(f"UPDATE {self.table} SET {sets} WHERE {self.keys[0]} = ?",
                        (*encoded.values(), key))

    def save(self, run: R, columns: Iterable[str]) -> None:
        """Store those fields of a run (its outcome and metrics, when it finishes)."""
        key = getattr(run, self.keys[0])
        self.update(key, **{c: getattr(run, c) for c in columns})

    def find(self, key: Any) -> R | None:
        """The run whose key columns (any of them) equal `key`, if any.

        SQLite compares a text key with an INTEGER column as a number, so "12" finds the
        run numbered 12.
        """
        where = " OR ".join(f"{c} = ?" for c in self.keys)
        with self.catalog.connect() as con:
            row = con.execute(f"SELECT * FROM {self.table} WHERE {where}",
                              [key] * len(self.keys)).fetchone()
        return self._decode(row) if row else None

    def get(self, key: Any) -> R:
        """The run with that key; NotFoundError naming it otherwise."""
        run = self.find(key)
        if run is None:
            raise NotFoundError(f"{self.noun} {key!r} does not exist in this sandbox")
        return run

    def select(self, where: Mapping[str, Any] | None = None,
               limit: int | None = None) -> list[R]:
        """Runs, newest first; `where` keeps those whose columns equal the values given
        (a None value matches every run)."""
        conditions = {c: v for c, v in (where or {}).items() if v is not None}
        sql = f"SELECT * FROM {self.table}"
        if conditions:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c in conditions)
        sql += f" ORDER BY {self.order}"
        args = list(conditions.values())
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self.catalog.connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [self._decode(r) for r in rows]

    def _encode(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name in self.json_fields:
                # default=str: details hold facts (counts, paths, times), never objects to keep.
                out[f"{name}_json"] = json.dumps(value, default=str)
            elif name in self.bool_fields:
                out[name] = int(bool(value))
            else:
                out[name] = value
        return out

    def _decode(self, row: sqlite3.Row) -> R:
        data = dict(row)
        for name in self.json_fields:
            data[name] = json.loads(data.pop(f"{name}_json"))
        for name in self.bool_fields:
            data[name] = bool(data[name])
        return self.record(**data)
