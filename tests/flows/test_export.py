"""Exports to every storage: layout, formats, manifest, idempotent runs, snapshot ranges, and
what a reader sees when an export is interrupted."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from distillery import Platform
from distillery.flows.dataflows import Dataflows
from distillery.flows.discovery import latest_export, list_exports
from distillery.flows.export import export_dataset
from distillery.flows.specs import ExportSpec
from tests.flows.conftest import Backend


def training_rows(n: int, start: int = 0) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table({"userId": [f"u{i}" for i in ids],
                     "emailsOpened": pa.array([i % 7 for i in ids], pa.int64()),
                     "minutes_since_emailSent": [float(i) / 3 for i in ids],
                     "subscriptionOccurred": pa.array([i % 2 for i in ids], pa.int64())})


@pytest.fixture
def training(platform: Platform):
    platform.lake.write("training", training_rows(2500))
    return platform.dataset("training")


def read_part(backend: Backend, home: Path, url: str, fmt: str) -> pa.Table:
    data = backend.storage(home).fs.cat_file(_fs_path(backend, home, url))
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(data))
    if url.endswith(".gz"):
        data = gzip.decompress(data)
    if fmt == "csv":
        return pacsv.read_csv(io.BytesIO(data))
    return pa.Table.from_pylist([json.loads(line) for line in data.splitlines()])


def _fs_path(backend: Backend, home: Path, url: str) -> str:
    store = backend.storage(home)
    return store.path(url[len(store.url) + 1:])


@pytest.mark.parametrize(("fmt", "compression"), [("parquet", "gzip"), ("parquet", "zstd"),
                                                  ("csv", "none"), ("json", "gzip")])
def test_export_layout_manifest_and_rows(platform: Platform, training, backend: Backend,
                                         fmt: str, compression: str) -> None:
    result = export_dataset(platform, "training", backend.url, run_id="run-1", fmt=fmt,
                            compression=compression, rows_per_file=1000)
    folder = f"{training.id}/exportTime={result.export_time}"
    names = sorted(backend.storage(platform.home, folder).listdir())
    ext = {"parquet": "parquet", "csv": "csv", "json": "json.gz"}[fmt]
    assert names == ["_SUCCESS", "_manifest.json",
                     *(f"part-{i:05d}.{ext}" for i in range(3))]
    store = backend.storage(platform.home, folder)
    manifest = json.loads(store.read_bytes("_manifest.json"))
    assert manifest["run_id"] == "run-1" and manifest["snapshot"] == training.version
    assert manifest["rows"] == 2500 == sum(f["rows"] for f in manifest["files"])
    assert [f["rows"] for f in manifest["files"]] == [1000, 1000, 500]
    back = []
    for part in manifest["files"]:
        raw = store.read_bytes(part["name"])
        assert len(raw) == part["bytes"]
        assert hashlib.sha256(raw).hexdigest() == part["sha256"]
        back.append(read_part(backend, platform.home, store.url_of(part["name"]), fmt))
    table = pa.concat_tables(back)
    assert sorted(table.column("userId").to_pylist()) == sorted(f"u{i}" for i in range(2500))
    if fmt == "parquet":
        assert pq.ParquetFile(io.BytesIO(store.read_bytes("part-00000.parquet"))) \
            .metadata.row_group(0).column(0).compression.lower() == compression


def test_rerunning_a_run_id_writes_nothing_new(platform: Platform, training,
                                               backend: Backend) -> None:
    flows = Dataflows(platform)
    first = flows.export("training", backend.url, run_id="nightly-1")
    store = backend.storage(platform.home, training.id)
    before = {f.path: f.fingerprint for f in store.find()}
    again = flows.export("training", backend.url, run_id="nightly-1")
    assert again.id == first.id and again.details["folder"] == first.details["folder"]
    assert {f.path: f.fingerprint for f in store.find()} == before
    assert len(list_exports(backend.url, training.id, home=platform.home)) == 1


def test_incremental_export_takes_only_new_snapshots(platform: Platform, training,
                                                     backend: Backend) -> None:
    flows = Dataflows(platform)
    flows.create("train-out", ExportSpec(dataset="training", url=backend.url,
                                         incremental=True))
    first = flows.run("train-out")
    assert (first.state, first.rows) == ("success", 2500)
    nothing = flows.run("train-out")
    assert (nothing.state, nothing.rows, nothing.files) == ("success", 0, 0)
    assert "nothing new" in nothing.details["message"]
    platform.lake.write("training", training_rows(40, start=10_000))
    second = flows.run("train-out")
    assert (second.state, second.rows) == ("success", 40)
    latest = latest_export(backend.url, training.id, home=platform.home, verify=True)
    assert latest is not None and latest.run_id == second.id
    assert latest.manifest["from_snapshot"] == first.details["snapshot"]


class _StopAfter:
    """A console that interrupts the export after `rows` rows, as Ctrl-C would."""

    def __init__(self, rows: int) -> None:
        self.left = rows

    def task(self, description: str, total: float | None = None):
        outer = self

        class _Task:
            def advance(self, amount: float = 1) -> None:
                outer.left -= amount
                if outer.left < 0:
                    raise KeyboardInterrupt

        from contextlib import nullcontext
        return nullcontext(_Task())

    def note(self, message: str) -> None:
        pass


def test_interrupted_export_is_never_seen_by_readers(home: Path, backend: Backend) -> None:
    platform = Platform.open(home)
    platform.lake.write("training", training_rows(2500))
    ds = platform.dataset("training")
    done = Dataflows(platform).export("training", backend.url, run_id="complete-1",
                                      rows_per_file=500)
    platform.close()

    stopping = Platform.open(home, console=_StopAfter(1200))
    with pytest.raises(KeyboardInterrupt):
        Dataflows(stopping).export("training", backend.url, run_id="cut-1", rows_per_file=500)
    cut = Dataflows(stopping).run_record("cut-1")
    assert cut.state == "failed" and "KeyboardInterrupt" in cut.error
    folder = f"{ds.id}/exportTime={cut.details['export_time']}"
    written = backend.storage(home, folder).listdir()
    assert "part-00000.parquet" in written and "_SUCCESS" not in written

    latest = latest_export(backend.url, ds.id, home=home)
    assert latest is not None and latest.run_id == "complete-1"
    assert latest.url == done.details["folder"] and latest.rows == 2500
    stopping.close()

    resumed = Dataflows(Platform.open(home)).export("training", backend.url, run_id="cut-1",
                                                    rows_per_file=500)
    assert resumed.state == "success" and resumed.details["folder"].endswith(folder)
    latest = latest_export(backend.url, ds.id, home=home, verify=True)
    assert latest.run_id == "cut-1" and latest.rows == 2500
    names = backend.storage(home, folder).listdir()
    assert not [n for n in names if n.startswith(".")], names  # no temporary files left


def test_reader_skips_folder_with_broken_manifest(platform: Platform, training,
                                                  backend: Backend) -> None:
    good = export_dataset(platform, training, backend.url, run_id="good")
    bad = export_dataset(platform, training, backend.url, run_id="bad")
    store = backend.storage(platform.home, f"{training.id}/exportTime={bad.export_time}")
    manifest = json.loads(store.read_bytes("_manifest.json"))
    manifest["files"][0]["name"] = "../../../etc/passwd"
    store.write_bytes("_manifest.json", json.dumps(manifest).encode())
    assert latest_export(backend.url, training.id, home=platform.home).run_id == good.run_id
