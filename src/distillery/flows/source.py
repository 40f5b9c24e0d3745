"""Source dataflow: ingest each new file of a folder (recursive) as one batch.

Every file is ingested once. The dataflow remembers each file's fingerprint (etag, or size
and mtime) and the batch that holds it: an unchanged file is skipped, a changed one is
ingested again as a replay that replaces its earlier batch. Batch ids derive from the
dataflow, the file's URL and its fingerprint, so a run interrupted after a commit finds its
batch on the next run instead of ingesting the file twice.

Bad rows follow the batch rules of the platform core (error threshold, row diagnostics). A
mapping of bare columns is the batch's own rename mapping, applied to the file as the
platform reads it; a mapping with expressions is evaluated chunk by chunk (see `mapping`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from distillery.errors import BatchFailedError, DistilleryError, SchemaError
from distillery.flows.mapping import Mapping
from distillery.flows.specs import SourceSpec
from distillery.flows.storage import FileInfo, Storage, is_hidden, open_storage
from distillery.flows.store import FileState, FlowStore
from distillery.lake import readers
from distillery.lake.catalog import BatchRecord, DatasetRecord

if TYPE_CHECKING:
    from distillery.platform import Platform


@dataclass
class FileOutcome:
    """What happened to one file in one run."""

    url: str
    state: str  # ingested, replayed, skipped, failed
    batch_id: str = ""
    rows: int = 0
    failed_rows: int = 0
    bytes: int = 0
    message: str = ""


@dataclass
class SourceOutcome:
    """What one run of a source dataflow did, file by file."""

    files: list[FileOutcome] = field(default_factory=list)

    def count(self, state: str) -> int:
        """Files in one state."""
        return sum(1 for f in self.files if f.state == state)

    @property
    def rows(self) -> int:
        """Rows written to the dataset."""
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        """Bytes of the files read."""
        return sum(f.bytes for f in self.files if f.state != "skipped")

    @property
    def loaded(self) -> int:
        """Files ingested or replayed."""
        return self.count("ingested") + self.count("replayed")

    def details(self) -> dict[str, Any]:
        """The run record's details."""
        return {"ingested": self.count("ingested"), "replayed": self.count("replayed"),
                "skipped": self.count("skipped"), "failed": self.count("failed"),
                "files": [asdict(f) for f in self.files if f.state != "skipped"]}


def batch_id_for(dataflow: str, url: str, fingerprint: str) -> str:
    """The client batch id of one version of one file for one dataflow."""
    digest = hashlib.sha256(f"{dataflow}\n{url}\n{fingerprint}".encode()).hexdigest()
    return f"src-{digest[:40]}"


def run_source(platform: Platform, spec: SourceSpec, *, dataflow: str, run_id: str,
               store: FlowStore, storage: Storage | None = None) -> SourceOutcome:
    """Ingest the new and changed files of the spec's folder; see the module docstring.

    A file whose batch fails is recorded as failed (and tried again next run); the other
    files are still ingested.
    """
    ds = platform.dataset(spec.dataset)
    folder = storage or open_storage(spec.url, home=platform.home, connection=spec.connection)
    known = store.files(dataflow)
    outcome = SourceOutcome()
    candidates = [f for f in folder.find(recursive=spec.recursive) if _wanted(f, spec)]
    with platform.console.task(f"source {dataflow}", total=len(candidates)) as task:
        for info in candidates:
            url = folder.url_of(info.path)
            prev = known.get(url)
            if prev and prev.fingerprint == info.fingerprint and prev.state == "success":
                outcome.files.append(FileOutcome(url, "skipped", prev.batch_id))
            else:
                result = _ingest_file(platform, ds, spec, folder, info, prev, dataflow)
                outcome.files.append(result)
                store.set_file(dataflow, FileState(
                    url, info.fingerprint, result.batch_id, run_id,
                    "failed" if result.state == "failed" else "success",
                    result.rows, result.message))
            task.advance()
    return outcome


def _wanted(info: FileInfo, spec: SourceSpec) -> bool:
    if any(is_hidden(part) for part in info.path.split("/")):
        return False  # markers (_SUCCESS), manifests and other writers' temporary files
    if spec.pattern and not fnmatch.fnmatch(info.path, spec.pattern) and \
            not fnmatch.fnmatch(info.path.rsplit("/", 1)[-1], spec.pattern):
        return False
    return spec.format is not None or Path(info.path).suffix.lower() in readers.FILE_FORMATS


def _ingest_file(platform: Platform, ds: DatasetRecord, spec: SourceSpec, folder: Storage,
                 info: FileInfo, prev: FileState | None, dataflow: str) -> FileOutcome:
    url = folder.url_of(info.path)
    bid = batch_id_for(dataflow, url, info.fingerprint)
    replaces = prev.batch_id if prev and prev.state == "success" else None
    kind = "replayed" if replaces else "ingested"
    done = platform.catalog.find_batch(bid)
    if done is not None and done.state == "success":
        # Committed by a run that stopped before it could remember the file.
        return _outcome(url, kind, done, info)
    try:
        with _local_copy(folder, info) as local:
            try:
                record = _load(platform, ds, spec, bid, replaces, local, url)
            except BatchFailedError as exc:
                failed = platform.catalog.find_batch(bid)
                return FileOutcome(url, "failed", bid, 0, failed.failed_records if failed else 0,
                                   info.size, folder.redact(str(exc)))
    except DistilleryError as exc:
        return FileOutcome(url, "failed", bid, 0, 0, info.size, folder.redact(str(exc)))
    return _outcome(url, kind, record, info)


def _outcome(url: str, kind: str, rec: BatchRecord, info: FileInfo) -> FileOutcome:
    return FileOutcome(url, kind, rec.id, rec.output_records, rec.failed_records, info.size,
                       rec.message)


def _load(platform: Platform, ds: DatasetRecord, spec: SourceSpec, bid: str,
          replaces: str | None, local: Path, url: str) -> BatchRecord:
    mapping = Mapping(spec.mapping)
    renames = mapping.renames() if mapping else None
    with platform.create_batch(ds, bid, mapping=renames, replaces=replaces,
                               error_threshold=spec.error_threshold) as batch:
        if not mapping or renames is not None:
            batch.add(local, file_format=spec.format, source=url)
        else:
            batch.add(_mapped_stream(local, spec.format, mapping, url), source=url)
    return batch.record


def _mapped_stream(local: Path, fmt: str | None, mapping: Mapping,
                   url: str) -> pa.RecordBatchReader:
    """The file's rows after the mapping, as one stream (so row numbers run on across
    chunks and diagnostics name `url`)."""
    chunks = _mapped_chunks(local, fmt, mapping, url)
    try:
        first = next(chunks)
    except StopIteration:
        return pa.RecordBatchReader.from_batches(pa.schema([]), [])
    except (readers.UnreadableFileError, SchemaError) as exc:
        # Raised again while the batch reads the stream, so the batch fails with a diagnostic.
        return pa.RecordBatchReader.from_batches(pa.schema([]), _raise(exc))
    schema = first.schema

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first.to_batches()
        for table in chunks:
            if table.schema != schema:
                table = table.cast(schema)
            yield from table.to_batches()

    return pa.RecordBatchReader.from_batches(schema, batches())


def _raise(exc: Exception) -> Iterator[pa.RecordBatch]:
    raise exc
    yield  # a generator, so the error comes when the batch reads it


def _mapped_chunks(local: Path, fmt: str | None, mapping: Mapping,
                   url: str) -> Iterator[pa.Table]:
    for chunk in readers.chunks(local, None, fmt):
        if chunk.bad_lines:
            lines = ", ".join(str(row) for row, _, _ in chunk.bad_lines[:10])
            raise readers.UnreadableFileError(
                f"file {url}: line(s) {lines} are not JSON objects (a mapping with "
                "expressions needs every line readable)")
        yield mapping.apply(chunk.table, url)


@contextmanager
def _local_copy(folder: Storage, info: FileInfo) -> Iterator[Path]:
    """The file as a local path: itself on a local disk, else a temporary download."""
    if folder.protocol == "file":
        yield Path(folder.path(info.path))
        return
    with tempfile.TemporaryDirectory(prefix="distillery-source-") as tmp:
        local = Path(tmp) / info.path.rsplit("/", 1)[-1]
        folder.download(info.path, local)
        yield local
