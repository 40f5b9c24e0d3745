"""Catalog migrations, applied by name.

Each file `NNN_name.sql` in `migrations/` is applied once, in file-name order, in a transaction
of its own, and recorded by its file name in the table `schema_migrations`. Tracking names
rather than the highest number applied means a home created before a lower-numbered migration
existed still gets it.

Catalogs written before this scheme kept only `PRAGMA user_version` (the highest number
applied). On their first open, a migration numbered at or below that version is recorded as
applied when every table and index it creates is there, and applied now otherwise (the gap
the old scheme left). `user_version` is still kept at the highest number applied, so an older
Distillery opening the catalog finds nothing to apply.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from distillery.errors import DistilleryError

_NAME = re.compile(r"^(\d+)_[A-Za-z0-9_]+\.sql$")
_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
          " applied_at TEXT NOT NULL)")


class MigrationError(DistilleryError, RuntimeError):
    """A migration script is misnamed or malformed, or failed (and was rolled back)."""


@dataclass(frozen=True)
class Migration:
    """One migration script: its file name (what is recorded) and its SQL."""

    name: str
    sql: str

    @property
    def number(self) -> int:
        """The number the file name starts with."""
        match = _NAME.match(self.name)
        if match is None:
            raise MigrationError(f"migration file {self.name!r} must be named NNN_name.sql")
        return int(match.group(1))

    def statements(self) -> Iterator[str]:
        """The script's statements, split where SQLite says a statement is complete."""
        buffer = ""
        for line in self.sql.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                yield buffer
                buffer = ""
        rest = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
        if rest:
            raise MigrationError(f"migration {self.name}: the text after its last statement is "
                                 f"not a complete statement (a missing ';'?): {rest[0][:80]!r}")


def bundled() -> list[Migration]:
    """The migrations shipped in `distillery/lake/migrations`, in order."""
    files = [p for p in resources.files("distillery.lake.migrations").iterdir()
             if p.name.endswith(".sql")]
    return ordered([Migration(p.name, p.read_text()) for p in files])


def ordered(migrations: Sequence[Migration]) -> list[Migration]:
    """Migrations by number then name; MigrationError for a misnamed or repeated one."""
    seen: dict[int, str] = {}
    for m in migrations:
        if m.number in seen:
            raise MigrationError(f"migrations {seen[m.number]} and {m.name} share number "
                                 f"{m.number}; give each its own")
        seen[m.number] = m.name
    return sorted(migrations, key=lambda m: (m.number, m.name))


def apply(path: Path, migrations: Sequence[Migration], now: str) -> list[str]:
    """Apply to the SQLite file at `path` every migration not yet recorded there.

    Args:
        path: The catalog file (created when missing).
        migrations: The migrations, in the order to apply them (see `ordered`).
        now: The time recorded as `applied_at`.

    Returns:
        The names of the migrations this call applied (empty when it was up to date).

    Raises:
        MigrationError: a migration failed; it was rolled back, earlier ones stay applied.
    """
    # Autocommit mode: transactions are begun and ended here, one per migration.
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute(_TABLE)
        if not _recorded(con) and _user_version(con) > 0:
            _adopt(con, migrations, now)
        done = _recorded(con)
        ran = []
        for m in migrations:
            if m.name not in done and _apply_one(con, m, now):
                ran.append(m.name)
        return ran
    finally:
        con.close()


def applied(path: Path) -> dict[str, str]:
    """The migrations recorded in a catalog file: name -> when it was applied."""
    con = sqlite3.connect(path, timeout=30)
    try:
        rows = con.execute("SELECT name, applied_at FROM schema_migrations ORDER BY name")
        return dict(rows.fetchall())
    finally:
        con.close()


def _recorded(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM schema_migrations")}


def _user_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def _apply_one(con: sqlite3.Connection, migration: Migration, now: str) -> bool:
    """Apply one migration in its own transaction; False if another process just did."""
    con.execute("BEGIN IMMEDIATE")  # the write lock first, so the check below holds
    try:
        if migration.name in _recorded(con):
            con.execute("ROLLBACK")
            return False
        for statement in migration.statements():
            con.execute(statement)
        _record(con, migration, now)
        con.execute("COMMIT")
    except BaseException as exc:
        if con.in_transaction:
            con.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise MigrationError(f"catalog migration {migration.name} failed and was rolled "
                                 f"back: {exc}") from exc
        raise
    return True


def _record(con: sqlite3.Connection, migration: Migration, now: str) -> None:
    con.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, now))
    if migration.number > _user_version(con):
        con.execute(f"PRAGMA user_version = {migration.number:d}")


def _adopt(con: sqlite3.Connection, migrations: Sequence[Migration], now: str) -> None:
    """Record what a catalog of the old scheme (only `user_version`) has applied."""
    creates = _objects_created(migrations)
    con.execute("BEGIN IMMEDIATE")
    try:
        if not _recorded(con):  # another process may have adopted it meanwhile
            version = _user_version(con)
            present = {(r[0], r[1]) for r in con.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')")}
            for m in migrations:
                if m.number <= version and creates[m.name] <= present:
                    con.execute("INSERT INTO schema_migrations (name, applied_at)"
                                " VALUES (?, ?)", (m.name, now))
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def _objects_created(migrations: Sequence[Migration]) -> dict[str, set[tuple[str, str]]]:
    """The tables and indexes each migration creates, found by replaying them in memory."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    query = "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')"
    out: dict[str, set[tuple[str, str]]] = {}
    try:
        for m in migrations:
            before = set(scratch.execute(query).fetchall())
            for statement in m.statements():
                scratch.execute(statement)
            out[m.name] = set(scratch.execute(query).fetchall()) - before
    finally:
        scratch.close()
    return out
