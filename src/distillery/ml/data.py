"""Where a training set comes from: a dataset in the lake, exported Parquet files, or a frame.

The reference trains on the Parquet files its export dataflow writes to the landing zone
(`.../{datasetId}/exportTime={YYYYMMDDHHMMSS}/part-*.parquet`) and finds the latest export by
listing the `exportTime=` folders; `load` does the same for a folder or URL, through fsspec, so
any storage fsspec reaches (local, s3://, az://, gs://) works. Whatever the source, the result
records what was read (dataset id and snapshot, or path and export time) for the model card.
Exported files keep the usage labels their manifest lists, so training can still refuse a use
the labels forbid once the rows have left the lake.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from distillery.errors import NotFoundError
from distillery.ml.errors import TrainingError

_EXPORT = re.compile(r"exportTime=(\d{8,14})$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
FEATURE_DEFINITION_TAG = "feature_definition"
# Written by export dataflows next to the part files (see distillery.flows.export).
MANIFEST, SUCCESS = "_manifest.json", "_SUCCESS"


@dataclass
class Source:
    """What a training set was read from.

    Attributes:
        kind: "dataset", "files", "query" or "frame".
        name: Dataset name, path/URL, SQL text, or "frame".
        dataset_id: The dataset's id (datasets only).
        snapshot: The dataset's snapshot (Delta version) that was read.
        export_time: The `exportTime=` folder read (exported files only).
        files: Number of Parquet files read.
        rows: Rows read.
        tags: The dataset's tags (the feature definition lives in tags["feature_definition"]).
        labels: The usage labels an export's manifest lists (exported files only), as
            `{"dataset": [labels], "fields": {path: [labels]}}`; None when there is no
            manifest or it predates labels in manifests.
    """

    kind: str
    name: str
    dataset_id: str | None = None
    snapshot: int | None = None
    export_time: str | None = None
    files: int = 0
    rows: int = 0
    tags: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] | None = None

    @property
    def feature_definition(self) -> dict[str, Any] | None:
        """The feature definition the training-set builder stored with the dataset, if any."""
        raw = self.tags.get(FEATURE_DEFINITION_TAG)
        if raw is None:
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise TrainingError(f"training set {self.name!r}: tags['{FEATURE_DEFINITION_TAG}']"
                                    f" is not valid JSON ({exc})") from None
        return raw if isinstance(raw, dict) else {"definition": raw}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (for the model card), without the bulky tags; the labels
        only when an export's manifest listed them."""
        out = asdict(self)
        out.pop("tags")
        if self.labels is None:
            out.pop("labels")
        return out


@dataclass(frozen=True)
class QueryRows:
    """Rows a SQL query returned (CREATE MODEL ... AS SELECT), with the query's text."""

    table: pa.Table
    sql: str


def load(platform: Any, source: Any, *, snapshot: int | None = None,
         storage_options: dict[str, Any] | None = None) -> tuple[pa.Table, Source]:
    """Read a training set.

    Args:
        platform: The platform (for datasets in its lake).
        source: A dataset name, id or table name; a path or URL of Parquet files (a folder, an
            `exportTime=` folder, or a folder of exports of which the latest is read); or an
            Arrow table, pandas or polars frame.
        snapshot: Dataset snapshot to read (default: current).
        storage_options: fsspec options for URLs (credentials otherwise come from the
            environment, as fsspec's backends read them).

    Returns:
        The rows and a description of what was read.
    """
    if isinstance(source, QueryRows):
        return source.table, Source(kind="query", name=source.sql, rows=source.table.num_rows)
    if not isinstance(source, str):
        table = _as_table(source)
        return table, Source(kind="frame", name="frame", rows=table.num_rows)
    ds = platform.catalog.find_dataset(source) if platform is not None else None
    if ds is not None:
        return _read_dataset(platform, ds, snapshot)
    if _URL.match(source) or "/" in source or source.endswith(".parquet"):
        return _read_files(platform, source, storage_options or {})
    sandbox = getattr(platform, "sandbox", "?")
    raise NotFoundError(f"training set {source!r} is neither a dataset in sandbox {sandbox!r} "
                        "nor a path or URL of Parquet files")


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow()
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (TypeError, pa.ArrowException) as exc:
        raise TrainingError(f"cannot read a training set from a {type(data).__name__}: give "
                            "a dataset name, a Parquet path, or an Arrow/pandas/polars frame"
                            ) from exc


def _read_dataset(platform: Any, ds: Any, snapshot: int | None) -> tuple[pa.Table, Source]:
    version = ds.version if snapshot is None else snapshot
    if snapshot is not None and not 0 <= snapshot <= ds.version:
        raise NotFoundError(f"dataset {ds.name!r} has no snapshot {snapshot} (latest is "
                            f"{ds.version})")
    files = platform.lake.files(ds, version)
    schema = ds.schema.to_arrow()
    table = pads.dataset(files, format="parquet", schema=schema).to_table() if files \
        else schema.empty_table()
    return table, Source(kind="dataset", name=ds.name, dataset_id=ds.id, snapshot=version,
                         files=len(files), rows=table.num_rows, tags=dict(ds.tags))


def _read_files(platform: Any, location: str, options: dict[str, Any]
                ) -> tuple[pa.Table, Source]:
    import fsspec
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    try:
        fs, path = fsspec.core.url_to_fs(location, **options)
    except (ImportError, ValueError) as exc:
        raise TrainingError(f"cannot open {location!r}: {exc}") from None
    if not fs.exists(path):
        raise NotFoundError(f"training set path {location!r} does not exist")
    path, export_time = _latest_export(fs, path)
    files = [path] if fs.isfile(path) else sorted(
        p for p in fs.find(path) if p.endswith((".parquet", ".parquet.gz", ".gz.parquet"))
        and not p.rsplit("/", 1)[-1].startswith((".", "_")))  # unpublished or metadata
    if not files:
        raise NotFoundError(f"no Parquet files under {location!r}")
    dataset = pads.dataset(files, format="parquet", filesystem=PyFileSystem(FSSpecHandler(fs)))
    table = dataset.to_table()
    source = Source(kind="files", name=location, export_time=export_time, files=len(files),
                    rows=table.num_rows)
    _lineage(platform, fs, path, source)
    return table, source


def _lineage(platform: Any, fs: Any, folder: str, source: Source) -> None:
    """What an export's `_manifest.json` says about the dataset the files came from (and the
    usage labels it had); when that dataset is in this sandbox, its tags (the feature
    definition) come along."""
    manifest_path = f"{folder.rstrip('/')}/{MANIFEST}"
    if fs.isfile(folder) or not fs.exists(manifest_path):
        return
    try:
        manifest = json.loads(fs.cat_file(manifest_path))
    except (OSError, ValueError):
        return
    if not isinstance(manifest, dict):
        return
    source.dataset_id = manifest.get("dataset_id")
    source.snapshot = manifest.get("snapshot")
    if "labels" in manifest:
        source.labels = _manifest_labels(manifest["labels"], manifest_path)
    key = source.dataset_id or manifest.get("dataset")
    found = platform.catalog.find_dataset(key) if platform is not None and key else None
    if found is not None:
        source.tags = dict(found.tags)


def _manifest_labels(raw: Any, where: str) -> dict[str, Any]:
    """The manifest's `labels` entry, checked: a malformed one refuses to read the files
    rather than passing for "no labels"."""
    fields = raw.get("fields", {}) if isinstance(raw, dict) else None
    if not (isinstance(fields, dict) and isinstance(raw.get("dataset", []), list)
            and all(isinstance(v, list) for v in fields.values())):
        raise TrainingError(f"{where}: malformed 'labels' entry {raw!r}; expected a 'dataset'"
                            " list of labels and 'fields' mapping each path to a list")
    def canonical(marks: list[Any]) -> list[str]:  # "c9" written by hand still means C9
        return sorted({str(x).strip().upper() for x in marks})

    return {"dataset": canonical(raw.get("dataset", [])),
            "fields": {str(k): canonical(v) for k, v in fields.items()}}


def _latest_export(fs: Any, path: str) -> tuple[str, str | None]:
    """The `exportTime=` folder to read: `path` itself, or its latest export sub-folder (the
    latest complete one, with `_SUCCESS`, when the exports mark completion)."""
    own = _EXPORT.search(path.rstrip("/"))
    if own:
        return path, own.group(1)
    if fs.isfile(path):
        return path, None
    exports = sorted((m.group(1), p) for p in fs.ls(path, detail=False)
                     if (m := _EXPORT.search(p.rstrip("/"))))
    if not exports:
        return path, None
    complete = [e for e in exports if fs.exists(f"{e[1].rstrip('/')}/{SUCCESS}")]
    stamp, latest = (complete or exports)[-1]
    return latest, stamp
