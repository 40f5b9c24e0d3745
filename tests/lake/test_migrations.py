"""Catalog migrations by name: applied once each, in order, one transaction each; catalogs of
the old scheme (only `PRAGMA user_version`) upgrade, gaps included."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from distillery.lake import migrate
from distillery.lake.catalog import Catalog
from distillery.lake.migrate import Migration, MigrationError

NAMES = [m.name for m in migrate.bundled()]


def old_style(path: Path, names: list[str], version: int) -> None:
    """A catalog as the number-only scheme left it: those scripts run, only a version kept."""
    scripts = {m.name: m.sql for m in migrate.bundled()}
    con = sqlite3.connect(path)
    for name in names:
        con.executescript(scripts[name])
    con.execute(f"PRAGMA user_version = {version:d}")
    con.commit()
    con.close()


def tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def test_a_new_catalog_records_every_migration_by_name(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.db")
    assert catalog.migrated == NAMES
    assert list(catalog.migrations()) == NAMES
    assert {"datasets", "query_runs", "dataflows", "score_runs", "audiences"} <= \
        tables(catalog.path)
    assert Catalog(catalog.path).migrated == []


def test_an_old_catalog_gets_the_rest_once(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    old_style(path, ["001_catalog.sql", "002_query_service.sql", "003_dataflows.sql"], 3)
    catalog = Catalog(path)
    assert catalog.migrated == ["005_profiles.sql", "006_audiences.sql"]
    assert list(catalog.migrations()) == NAMES
    assert Catalog(path).migrated == []
    with sqlite3.connect(path) as con:
        # The default merge policy 005 inserts is there exactly once.
        assert con.execute("SELECT count(*) FROM merge_policies").fetchone()[0] == 1
        # An older Distillery reading only the version finds nothing left to apply.
        assert con.execute("PRAGMA user_version").fetchone()[0] == 6


def test_an_old_catalog_that_skipped_a_lower_number_gets_it(tmp_path: Path) -> None:
    # Made when 006 existed but 005 did not: the number-only scheme would never apply 005.
    path = tmp_path / "catalog.db"
    old_style(path, ["001_catalog.sql", "002_query_service.sql", "003_dataflows.sql",
                     "006_audiences.sql"], 6)
    assert "merge_policies" not in tables(path)
    catalog = Catalog(path)
    assert catalog.migrated == ["005_profiles.sql"]
    assert {"merge_policies", "profile_state", "score_runs"} <= tables(path)
    assert Catalog(path).migrated == []


def test_a_failing_migration_is_rolled_back_and_named(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    good = Migration("001_a.sql", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n")
    bad = Migration("002_b.sql", "CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(MigrationError, match=re.escape(
            "migration 002_b.sql failed and was rolled back: no such table: nowhere")):
        migrate.apply(path, migrate.ordered([bad, good]), "t0")
    # 001 stays applied; nothing of 002 is left, so a fixed 002 applies cleanly.
    assert list(migrate.applied(path)) == ["001_a.sql"]
    assert tables(path) == {"schema_migrations", "a"}
    fixed = Migration("002_b.sql", "CREATE TABLE b (x INTEGER);")
    assert migrate.apply(path, [good, fixed], "t1") == ["002_b.sql"]
    assert migrate.applied(path) == {"001_a.sql": "t0", "002_b.sql": "t1"}


def test_misnamed_repeated_or_unfinished_migrations_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=re.escape("'add_b.sql' must be named NNN_")):
        migrate.ordered([Migration("add_b.sql", "")])
    with pytest.raises(MigrationError, match=re.escape("001_a.sql and 001_b.sql share")):
        migrate.ordered([Migration("001_a.sql", ""), Migration("001_b.sql", "")])
    unfinished = Migration("001_a.sql", "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INT)\n")
    with pytest.raises(MigrationError, match="missing ';'"):
        migrate.apply(tmp_path / "c.db", [unfinished], "t0")
    assert migrate.applied(tmp_path / "c.db") == {}
