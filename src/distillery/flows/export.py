"""Export a dataset (a snapshot, or the rows a snapshot range added) to files in storage.

Layout, as the reference's dataset export:

    {url}/{dataset_id}/exportTime=YYYYMMDDHHMMSS/part-00000.parquet
                                                 part-00001.parquet
                                                 _manifest.json   (run, snapshot, per-file rows
                                                                   and sha256, usage labels)
                                                 _SUCCESS         (written last)

Rows stream from the snapshot's Parquet files in record batches, so memory stays bounded
whatever the dataset's size. Each part is written under a hidden temporary name and published
only when complete; the manifest and then `_SUCCESS` come last, so a reader that looks for
`_SUCCESS` (see `discovery.latest_export`) never sees a half export. Exporting again with the
same run id and export time finds the finished folder and writes nothing.

Rows leave the platform, so the dataset's data-usage labels are checked first
(`lake.labels.check`, purpose "export": C1 and C12 forbid it; "export:third-party", for storage
another company reads, adds C2). A refused export raises GovernanceError and touches no storage.
The labels the dataset had at export time go into the manifest, so whoever reads the files
(training, `ml.data.load`) still knows what they may be used for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.errors import AlreadyExistsError, DistilleryError
from distillery.flows.formats import FileFormat, HashingWriter, file_format, part_writer
from distillery.flows.storage import Storage, open_storage
from distillery.lake import labels, tables
from distillery.lake.catalog import DatasetRecord, now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
EXPORT_TIME_FORMAT = "%Y%m%d%H%M%S"
DEFAULT_ROWS_PER_FILE = 1_000_000
_READ_ROWS = 64 * 1024
_WRITE_ROWS = 256 * 1024


class ExportError(DistilleryError, RuntimeError):
    """An export could not be completed; nothing was published as complete."""


@dataclass
class PartFile:
    """One published part file of an export."""

    name: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class ExportResult:
    """What an export wrote (or found already written, for a repeated run id)."""

    run_id: str
    dataset_id: str
    dataset: str
    url: str
    export_time: str
    snapshot: int
    from_snapshot: int | None
    format: str
    compression: str
    rows: int = 0
    bytes: int = 0
    files: list[PartFile] = field(default_factory=list)
    duration_s: float = 0.0
    reused: bool = False
    # The dataset's usage labels at export time, as `manifest_labels` shapes them.
    labels: dict[str, Any] = field(default_factory=lambda: {"dataset": [], "fields": {}})

    def manifest(self) -> dict[str, Any]:
        """The `_manifest.json` content (no credentials, no storage URL)."""
        return {
            "run_id": self.run_id, "dataset_id": self.dataset_id, "dataset": self.dataset,
            "export_time": self.export_time, "snapshot": self.snapshot,
            "from_snapshot": self.from_snapshot, "format": self.format,
            "compression": self.compression, "rows": self.rows, "bytes": self.bytes,
            "files": [asdict(f) for f in self.files], "labels": self.labels,
            "created_at": now_iso(), "writer": f"distillery {_version()}",
        }


def manifest_labels(found: labels.Labelled) -> dict[str, Any]:
    """The manifest's `labels` entry from what `labels.labels_for` returns (no fields):
    `{"dataset": [sorted labels], "fields": {path: [sorted labels]}}`."""
    return {"dataset": sorted(found.get(labels.ALL_FIELDS, ())),
            "fields": {path: sorted(marks) for path, marks in sorted(found.items())
                       if path != labels.ALL_FIELDS and marks}}


def _version() -> str:
    try:
        return metadata.version("distillery")
    except metadata.PackageNotFoundError:
        return "unknown"


def export_time_of(moment: datetime | None = None) -> str:
    """The `exportTime=` folder stamp (UTC) of a moment (default: now)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(EXPORT_TIME_FORMAT)


def export_dataset(platform: Platform, dataset: str | DatasetRecord, url: str, *,
                   run_id: str, export_time: str | None = None, snapshot: int | None = None,
                   since: int | None = None, fmt: str | None = None,
                   compression: str | None = None, connection: str | None = None,
                   rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                   storage: Storage | None = None,
                   on_claim: Callable[[str], None] | None = None,
                   purpose: str = "export") -> ExportResult:
    """Export a dataset's rows at `snapshot` (default: current) to `url`.

    Args:
        platform: The platform whose dataset to export.
        dataset: Dataset name, id or record.
        url: Destination folder URL; files go under `{url}/{dataset_id}/exportTime=.../`.
        run_id: The run's id, written into the manifest; repeating it with the same
            `export_time` finds the finished export and writes nothing.
        export_time: The `exportTime=` stamp (default: now, UTC).
        snapshot: The dataset snapshot to read (default: the current one).
        since: Export only rows added after this snapshot (a snapshot range).
        fmt: parquet (default), csv or json (JSON lines).
        compression: gzip (Parquet default), snappy, zstd or none for Parquet; none or gzip
            for csv and json.
        connection: A named connection for `url`.
        rows_per_file: Rows per part file.
        storage: An opened storage for `url` (tests and runners reuse one).
        on_claim: Called with the export time of the folder this run writes (another
            run may own the asked second), before any row is written.
        purpose: What the export is for, as `lake.labels.PURPOSES` names it: "export"
            (files in the organisation's own storage), or "export:third-party".

    Raises:
        GovernanceError: a label on the dataset or one of its fields forbids the purpose
            (naming dataset, field and label); nothing is written.
        ConfigError: a bad format, compression or URL.
        StorageError: storage could not be written; nothing was published as complete.
    """
    if rows_per_file < 1:
        raise ExportError(f"rows per file must be at least 1, got {rows_per_file}")
    ds = dataset if isinstance(dataset, DatasetRecord) else platform.dataset(dataset)
    # Every field leaves, so every label of the dataset counts.
    found = labels.labels_for(platform, ds)
    labels.check(purpose, found, dataset=ds.name)
    out_format = file_format(fmt, compression)
    snap = ds.version if snapshot is None else snapshot
    store = storage or open_storage(url, home=platform.home, connection=connection)
    stamp = export_time or export_time_of()
    result = ExportResult(run_id, ds.id, ds.name, "", stamp, snap, since, out_format.name,
                          out_format.compression, labels=manifest_labels(found))
    folder = _claim_folder(store, ds.id, result)
    result.url = store.url_of(folder)
    if result.reused:
        return result
    if on_claim is not None:
        on_claim(result.export_time)
    started = time.perf_counter()
    files = _snapshot_files(platform, ds, snap, since)
    store.remove(folder, recursive=True)  # leftovers of an earlier attempt of this run
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    with platform.console.task(f"export {ds.name} to {result.url}", total=total) as task:
        batches = _read(files, ds.schema.to_arrow())
        result.files = _write_parts(store, folder, batches, ds.schema.to_arrow(), out_format,
                                    rows_per_file, task)
    result.rows = sum(f.rows for f in result.files)
    result.bytes = sum(f.bytes for f in result.files)
    store.write_bytes(f"{folder}/{MANIFEST}",
                      json.dumps(result.manifest(), indent=2).encode())
    store.write_bytes(f"{folder}/{SUCCESS}", b"")
    result.duration_s = time.perf_counter() - started
    return result


def _claim_folder(store: Storage, dataset_id: str, result: ExportResult) -> str:
    """The export folder of this run: the given stamp, or (when another run already owns that
    second) the next free one. A folder finished by this same run id is reused as it is."""
    moment = datetime.strptime(result.export_time, EXPORT_TIME_FORMAT).replace(tzinfo=UTC)
    for _ in range(60):
        folder = f"{dataset_id}/exportTime={result.export_time}"
        owner = _finished_by(store, folder)
        if owner is None:
            return folder
        if owner.get("run_id") == result.run_id:
            _fill_from_manifest(result, owner)
            return folder
        moment += timedelta(seconds=1)
        result.export_time = export_time_of(moment)
    raise AlreadyExistsError(f"no free exportTime folder near {result.export_time} under "
                             f"{store.url_of(dataset_id)}")


def _finished_by(store: Storage, folder: str) -> dict[str, Any] | None:
    """The manifest of a finished export in `folder`, if there is one."""
    if not store.exists(f"{folder}/{SUCCESS}"):
        return None
    try:
        manifest = json.loads(store.read_bytes(f"{folder}/{MANIFEST}"))
    except (ValueError, OSError):
        return {"run_id": None}
    return manifest if isinstance(manifest, dict) else {"run_id": None}


def _fill_from_manifest(result: ExportResult, manifest: dict[str, Any]) -> None:
    result.reused = True
    result.snapshot = manifest.get("snapshot", result.snapshot)
    result.from_snapshot = manifest.get("from_snapshot")
    result.files = [PartFile(**f) for f in manifest.get("files", [])]
    result.rows = int(manifest.get("rows", 0))
    result.bytes = int(manifest.get("bytes", 0))
    # What the files were written with; an export older than labels in manifests keeps the
    # dataset's current labels.
    result.labels = manifest.get("labels", result.labels)


def _snapshot_files(platform: Platform, ds: DatasetRecord, snapshot: int,
                    since: int | None) -> list[str]:
    if snapshot < 0 or snapshot > ds.version:
        raise ExportError(f"dataset {ds.name!r} has no snapshot {snapshot} (current: "
                          f"{ds.version})")
    if since is None:
        files = platform.lake.files(ds, snapshot)
    elif since > snapshot:
        raise ExportError(f"snapshot range {since}..{snapshot} of dataset {ds.name!r} is "
                          "empty: the start is after the end")
    else:
        files = tables.files_between(platform.lake.path(ds), since, snapshot)
    # Batch file names start with the batch's time, so this is (mostly) ingestion order.
    return sorted(files)


def _read(files: list[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=_READ_ROWS):
            if not batch.schema.equals(schema, check_metadata=False):
                batch = batch.cast(schema)
            yield batch


def _write_parts(store: Storage, folder: str, batches: Iterator[pa.RecordBatch],
                 schema: pa.Schema, fmt: FileFormat, rows_per_file: int,
                 task: Any) -> list[PartFile]:
    """Cut the stream into part files of at most `rows_per_file` rows."""
    parts: list[PartFile] = []
    pending = _Rows(batches)
    while pending.more():
        name = f"part-{len(parts):05d}.{fmt.extension}"
        with store.writing(f"{folder}/{name}") as fh:
            out = HashingWriter(fh)
            writer = part_writer(fmt, schema, out)
            try:
                for chunk in pending.take(rows_per_file, _WRITE_ROWS):
                    writer.write(chunk)
                    task.advance(chunk.num_rows)
                writer.close()
            except BaseException:
                out.drop()
                raise
        parts.append(PartFile(name, writer.rows, out.bytes, out.sha256.hexdigest()))
    return parts


class _Rows:
    """A stream of record batches that can be cut at any row count."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._head: pa.RecordBatch | None = None

    def more(self) -> bool:
        while self._head is None or self._head.num_rows == 0:
            nxt = next(self._batches, None)
            if nxt is None:
                return False
            self._head = nxt
        return True

    def take(self, limit: int, group: int) -> Iterator[pa.RecordBatch]:
        """Up to `limit` rows, regrouped into batches of about `group` rows."""
        left = limit
        held: list[pa.RecordBatch] = []
        held_rows = 0
        while left > 0 and self.more():
            head = self._head
            assert head is not None
            piece = head.slice(0, min(left, head.num_rows))
            self._head = head.slice(piece.num_rows)
            left -= piece.num_rows
            held.append(piece)
            held_rows += piece.num_rows
            if held_rows >= group:
                yield from pa.Table.from_batches(held).combine_chunks().to_batches()
                held, held_rows = [], 0
        if held:
            yield from pa.Table.from_batches(held).combine_chunks().to_batches()
