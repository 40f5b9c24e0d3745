"""RunTable: run records in a catalog table, started, updated, restarted, found and listed."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from distillery.errors import NotFoundError
from distillery.lake.catalog import Catalog
from distillery.lake.runs import RunTable

TABLE = """CREATE TABLE test_runs (
    number       INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    flow         TEXT,
    state        TEXT NOT NULL,
    dry_run      INTEGER NOT NULL DEFAULT 0,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    rows         INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    details_json TEXT NOT NULL DEFAULT '{}'
)"""


@dataclass
class Run:
    number: int
    id: str
    flow: str | None
    state: str
    started_at: str
    dry_run: bool = False
    finished_at: str | None = None
    rows: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


STARTED = ("id", "flow", "state", "dry_run", "started_at", "details")


@pytest.fixture
def table(tmp_path: Path) -> RunTable[Run]:
    catalog = Catalog(tmp_path / "catalog.db")
    with catalog.connect() as con:
        con.execute(TABLE)
    return RunTable(catalog, "test_runs", Run, "test run", keys=("id", "number"),
                    order="number DESC", bool_fields=("dry_run",))


def run(rid: str, flow: str | None = "a", started: str = "t0", **kw: Any) -> Run:
    return Run(0, rid, flow, "running", started, **kw)


def test_a_run_round_trips_with_json_and_bool_fields(table: RunTable[Run]) -> None:
    number = table.start(run("r1", dry_run=True, details={"files": ["x.parquet"]}), STARTED)
    assert number == 1
    got = table.get("r1")
    assert got == Run(1, "r1", "a", "running", "t0", True, details={"files": ["x.parquet"]})
    finished = Run(1, "r1", "a", "failed", "t0", True, "t1", 7, "boom", {"files": []})
    table.save(finished, ("state", "finished_at", "rows", "error", "details"))
    assert table.get("r1") == finished
    with sqlite3.connect(table.catalog.path) as con:
        assert con.execute("SELECT dry_run, details_json FROM test_runs").fetchone() == (
            1, '{"files": []}')


def test_a_run_is_found_by_any_key_and_a_missing_one_is_named(table: RunTable[Run]) -> None:
    table.start(run("r1"), STARTED)
    table.start(run("r2"), STARTED)
    assert table.find("r2").number == 2
    assert table.find(2).id == "r2"
    assert table.find("2").id == "r2"  # the text of a number finds the number
    assert table.find("r9") is None
    with pytest.raises(NotFoundError, match="test run 'r9' does not exist in this sandbox"):
        table.get("r9")


def test_a_run_id_is_recorded_once_unless_it_restarts(table: RunTable[Run]) -> None:
    table.start(run("r1", details={"try": 1}), STARTED)
    table.update("r1", state="failed", finished_at="t1", error="boom", rows=3)
    with pytest.raises(sqlite3.IntegrityError):
        table.start(run("r1"), STARTED)
    table.start(run("r1", started="t2", details={"try": 2}), STARTED,
                restart=("finished_at", "error"))
    got = table.get("r1")
    assert (got.number, got.state, got.started_at, got.finished_at, got.error, got.details) == (
        1, "running", "t2", None, None, {"try": 2})
    assert got.rows == 3  # columns neither inserted nor reset keep their value


def test_select_filters_orders_newest_first_and_limits(table: RunTable[Run]) -> None:
    for rid, flow in [("r1", "a"), ("r2", "b"), ("r3", "a"), ("r4", None)]:
        table.start(run(rid, flow), STARTED)
    table.update("r3", state="success")
    assert [r.id for r in table.select()] == ["r4", "r3", "r2", "r1"]
    assert [r.id for r in table.select({"flow": "a"})] == ["r3", "r1"]
    assert [r.id for r in table.select({"flow": None}, limit=2)] == ["r4", "r3"]
    assert [r.id for r in table.select({"flow": "a", "state": "success"})] == ["r3"]
    assert table.select({"flow": "zzz"}) == []
