"""The lake of one sandbox: datasets (Delta tables) and the batches that fill them."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillery.errors import AlreadyExistsError, IngestionError, SchemaError
from distillery.lake import readers, tables
from distillery.lake.catalog import BatchRecord, Catalog, DatasetRecord, now_iso
from distillery.lake.ingest import DEFAULT_ERROR_THRESHOLD, Batch, check_batch_id
from distillery.lake.schema import Schema, infer_schema

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")

CommitHook = Callable[[DatasetRecord, BatchRecord], None]


def table_name_for(name: str) -> str:
    """The SQL table name the reference derives from a dataset name: lower case, `_` for
    anything that is not a letter or digit."""
    out = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    return out if out and not out[0].isdigit() else f"t_{out}"


class Lake:
    """Datasets and batches of one sandbox, stored under `root`."""

    def __init__(self, root: Path, catalog: Catalog) -> None:
        self.root = root
        self.catalog = catalog
        self.commit_hooks: list[CommitHook] = []
        (root / "datasets").mkdir(parents=True, exist_ok=True)

    # Datasets -------------------------------------------------------------------------------

    def create_dataset(self, name: str, schema: Schema, *, table_name: str | None = None,
                       profile_enabled: bool = False, tags: dict[str, Any] | None = None,
                       labels: list[str] | None = None, description: str = "",
                       exist_ok: bool = False) -> DatasetRecord:
        """Create an empty dataset with `schema`; its SQL name defaults from `name`."""
        existing = self.catalog.find_dataset(name)
        if existing is not None and existing.name == name:
            if exist_ok:
                return existing
            raise AlreadyExistsError(f"dataset {name!r} exists already (id {existing.id})")
        table = table_name or table_name_for(name)
        if not _TABLE_NAME.match(table):
            raise SchemaError(f"table name {table!r} is invalid: use lower-case letters, digits "
                              "and '_', starting with a letter or '_'")
        clash = self.catalog.find_dataset(table)
        if clash is not None:
            raise AlreadyExistsError(f"table name {table!r} is used by dataset {clash.name!r}")
        if profile_enabled and schema.primary_identity is None:
            raise SchemaError(f"dataset {name!r} cannot be enabled for profile: schema "
                              f"{schema.title!r} has no primary identity")
        rec = DatasetRecord(id=uuid.uuid4().hex[:24], name=name, table_name=table, schema=schema,
                            profile_enabled=profile_enabled, tags=tags or {},
                            labels=labels or [], description=description,
                            created_at=now_iso())
        path = self.path(rec)
        tables.create(path, schema.to_arrow())
        try:
            self.catalog.add_dataset(rec)
        except Exception:
            shutil.rmtree(path, ignore_errors=True)
            raise
        rec.version = 0
        self.catalog.update_dataset(rec.id, version=0)
        return rec

    def dataset(self, key: str) -> DatasetRecord:
        """A dataset by id, name or table name."""
        return self.catalog.dataset(key)

    def datasets(self) -> list[DatasetRecord]:
        """Every dataset in the sandbox."""
        return self.catalog.datasets()

    def drop_dataset(self, key: str) -> DatasetRecord:
        """Delete a dataset, its data and its batches."""
        rec = self.dataset(key)
        self.catalog.remove_dataset(rec.id)
        shutil.rmtree(self.path(rec), ignore_errors=True)
        return rec

    def path(self, dataset: DatasetRecord) -> Path:
        """The folder of a dataset's Delta table."""
        return self.root / "datasets" / dataset.id

    def files(self, dataset: DatasetRecord, version: int | None = None) -> list[str]:
        """The Parquet files of a dataset at `version` (default: current)."""
        return tables.file_uris(self.path(dataset), version)

    # Batches --------------------------------------------------------------------------------

    def create_batch(self, dataset: str | DatasetRecord, batch_id: str | None = None, *,
                     error_threshold: float | None = None, mapping: dict[str, str] | None = None,
                     replaces: str | None = None, overwrite: bool = False) -> Batch:
        """Open a batch into `dataset`. A `batch_id` the client chose makes re-sending safe:
        if that batch already succeeded, the returned batch ignores its data."""
        ds = dataset if isinstance(dataset, DatasetRecord) else self.dataset(dataset)
        threshold = DEFAULT_ERROR_THRESHOLD if error_threshold is None else error_threshold
        if not 0 <= threshold <= 1:
            raise IngestionError(f"error threshold must be between 0 and 1, got {threshold}")
        if replaces is not None:
            old = self.catalog.batch(replaces)
            if old.dataset_id != ds.id or old.state != "success":
                raise IngestionError(f"batch {replaces} is not a successful batch of dataset "
                                     f"{ds.name!r}, so it cannot be replaced")
        bid = check_batch_id(batch_id) if batch_id else _new_batch_id()
        rec, done = self._open_record(ds, bid, threshold, replaces)
        return Batch(self.catalog, ds, rec, self.path(ds), mapping=mapping, done=done,
                     overwrite=overwrite, on_commit=self._committed)

    def _open_record(self, ds: DatasetRecord, bid: str, threshold: float,
                     replaces: str | None) -> tuple[BatchRecord, bool]:
        existing = self.catalog.find_batch(bid)
        if existing is not None and existing.dataset_id != ds.id:
            raise AlreadyExistsError(f"batch id {bid} belongs to another dataset")
        if existing is not None and existing.state in ("success", "replaced"):
            return existing, True
        committed = tables.committed_version(self.path(ds), bid) if existing else None
        if existing is not None and committed is not None:
            # The commit landed but the process died before the catalog heard of it.
            self.catalog.update_batch(bid, state="success", snapshot=committed,
                                      completed_at=now_iso(),
                                      message="recovered from the table log")
            self.catalog.update_dataset(ds.id, version=tables.version(self.path(ds)))
            return self.catalog.batch(bid), True
        for stale in self.path(ds).glob(f"part-{bid}-*.parquet"):
            stale.unlink()
        rec = BatchRecord(id=bid, dataset_id=ds.id, state="loading", created_at=now_iso(),
                          error_threshold=threshold, replaces=replaces)
        if existing is None:
            self.catalog.add_batch(rec)
        else:
            self.catalog.update_batch(bid, state="loading", error_threshold=threshold,
                                      input_records=0, output_records=0, failed_records=0,
                                      input_bytes=0, input_files=0, message="", replaces=replaces)
        return rec, False

    def ingest(self, dataset: str | DatasetRecord, *data: Any, batch_id: str | None = None,
               error_threshold: float | None = None, mapping: dict[str, str] | None = None,
               replaces: str | None = None, file_format: str | None = None) -> BatchRecord:
        """Create a batch, add every input, complete it; return the batch record.

        Raises:
            BatchFailedError: the batch failed; the dataset is unchanged.
        """
        with self.create_batch(dataset, batch_id, error_threshold=error_threshold,
                               mapping=mapping, replaces=replaces) as batch:
            for item in data:
                batch.add(item, file_format=file_format)
        return batch.record

    def write(self, name: str, data: Any, *, schema: Schema | None = None,
              mode: str = "append", batch_id: str | None = None,
              error_threshold: float | None = None, **dataset_options: Any) -> BatchRecord:
        """Write rows (a stream, table or frame) to a dataset as one batch, creating the dataset
        when it does not exist (with `schema`, or one inferred from the rows). The shared path
        for CREATE TABLE AS, INSERT INTO, training sets and scores.

        Args:
            name: Dataset name (or id, or table name when it exists).
            data: Rows: an Arrow table or record-batch reader, pandas or polars frame.
            schema: Schema for a new dataset; inferred from `data` when omitted.
            mode: "append", "overwrite" (replace every row in one snapshot), or "create"
                (refuse if the dataset exists).
            batch_id: Client batch id, for idempotent re-runs.
            error_threshold: Share of bad rows tolerated (default 5%).
            **dataset_options: Passed to `create_dataset` for a new dataset.
        """
        if mode not in ("append", "overwrite", "create"):
            raise IngestionError(f"write mode must be append, overwrite or create, got {mode!r}")
        ds = self.catalog.find_dataset(name)
        if ds is not None and mode == "create":
            raise AlreadyExistsError(f"dataset {name!r} exists already (id {ds.id})")
        if ds is None:
            if schema is None:
                data = readers.as_stream(data)
                schema = infer_schema(data.schema, name)
            ds = self.create_dataset(name, schema, **dataset_options)
        with self.create_batch(ds, batch_id, error_threshold=error_threshold,
                               overwrite=mode == "overwrite") as batch:
            batch.add(data, source=ds.name)
        return batch.record

    def revert_batch(self, batch_id: str) -> BatchRecord:
        """Remove a successful batch's rows from its dataset in one new snapshot."""
        old = self.catalog.batch(batch_id)
        if old.state != "success":
            raise IngestionError(f"batch {batch_id} is {old.state}; only a successful batch "
                                 "can be reverted")
        ds = self.catalog.dataset(old.dataset_id)
        version = tables.commit(self.path(ds), ds.schema.to_arrow(), f"revert-{batch_id}", [],
                                old.files)
        self.catalog.update_dataset(ds.id, version=version)
        self.catalog.update_batch(batch_id, state="reverted",
                                  message=f"reverted in snapshot {version}")
        return self.catalog.batch(batch_id)

    def batch(self, batch_id: str) -> BatchRecord:
        """A batch record by id."""
        return self.catalog.batch(batch_id)

    def _committed(self, dataset: DatasetRecord, batch: BatchRecord) -> None:
        for hook in self.commit_hooks:
            hook(dataset, batch)


def _new_batch_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:12]}"

