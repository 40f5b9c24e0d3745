"""Delta storage: staged files in parallel lanes, one commit per batch, removal and ranges."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillery.lake import tables

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _rows(start: int, n: int) -> pa.Table:
    ids = pa.array(range(start, start + n), pa.int64())
    return pa.table({"id": ids, "name": pc.cast(ids, pa.string())}, schema=SCHEMA)


def test_lanes_write_several_files_that_commit_as_one_version(tmp_path: Path) -> None:
    tables.create(tmp_path, SCHEMA)
    writer = tables.FileWriter(tmp_path, "b1", SCHEMA, lanes=2)
    writer.write(_rows(0, 600_000))
    writer.write(_rows(600_000, 10))
    staged = writer.close()
    assert len(staged) == 2 and sum(f.rows for f in staged) == 600_010
    assert tables.version(tmp_path) == 0  # nothing visible before the commit
    assert tables.commit(tmp_path, SCHEMA, "b1", staged) == 1
    got = pa.concat_tables(pq.read_table(f) for f in tables.file_uris(tmp_path))
    assert sorted(got.column("id").to_pylist()) == list(range(600_010))


def test_discard_removes_staged_files(tmp_path: Path) -> None:
    tables.create(tmp_path, SCHEMA)
    writer = tables.FileWriter(tmp_path, "gone", SCHEMA)
    writer.write(_rows(0, 100))
    writer.close()
    writer.discard()
    assert not list(tmp_path.glob("part-gone-*"))


def test_files_between_gives_what_later_commits_added(tmp_path: Path) -> None:
    tables.create(tmp_path, SCHEMA)
    for i in range(3):
        w = tables.FileWriter(tmp_path, f"b{i}", SCHEMA)
        w.write(_rows(i * 10, 10))
        tables.commit(tmp_path, SCHEMA, f"b{i}", w.close())
    assert len(tables.files_between(tmp_path, 0)) == 3
    assert [Path(f).name for f in tables.files_between(tmp_path, 1, 2)] == ["part-b1-00000.parquet"]
    assert tables.committed_version(tmp_path, "b2") == 3
    assert tables.committed_version(tmp_path, "never") is None
