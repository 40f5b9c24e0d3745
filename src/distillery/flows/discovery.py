"""Find exports as a reader does: list `exportTime=` folders, newest complete one first.

A folder counts only when it is complete: `_SUCCESS` exists, `_manifest.json` parses and names
this dataset, and every file it lists is there with the listed size (with `verify`, the
sha256 too). Anything else (an export still running, or one that was interrupted) is skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillery.flows.export import MANIFEST, SUCCESS
from distillery.flows.storage import (
    Storage,
    StorageNotFoundError,
    UnsafePathError,
    open_storage,
)

_FOLDER = re.compile(r"^exportTime=(\d{14})$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DATASET_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass
class ExportFolder:
    """A complete export: its folder, stamp, manifest and part files."""

    url: str
    export_time: str
    manifest: dict[str, Any]
    files: list[str] = field(default_factory=list)  # URLs of the part files
    storage: Storage | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        """The run that wrote the export."""
        return str(self.manifest.get("run_id"))

    @property
    def rows(self) -> int:
        """Rows in the export, per the manifest."""
        return int(self.manifest.get("rows", 0))

    def paths(self) -> list[str]:
        """The part files as paths of the export's filesystem (for pyarrow and friends)."""
        assert self.storage is not None
        return [self.storage.path(f["name"]) for f in self.manifest["files"]]


def list_exports(url: str, dataset_id: str, *, home: Path | None = None,
                 connection: str | None = None, verify: bool = False,
                 storage: Storage | None = None) -> list[ExportFolder]:
    """Every complete export of a dataset under `url`, newest first (see `latest_export`)."""
    return list(_exports(storage or open_storage(url, home=home, connection=connection),
                         dataset_id, verify))


def latest_export(url: str, dataset_id: str, *, home: Path | None = None,
                  connection: str | None = None, verify: bool = False,
                  storage: Storage | None = None) -> ExportFolder | None:
    """The newest complete export of a dataset under `url` (None when there is none).

    Args:
        url: The export destination, as given to the export.
        dataset_id: The dataset's id (the folder under `url`).
        home: Home whose connections to use.
        connection: A named connection.
        verify: Also check every file's sha256 (reads every byte).
        storage: An opened storage for `url`.
    """
    return next(_exports(storage or open_storage(url, home=home, connection=connection),
                         dataset_id, verify), None)


def _exports(store: Storage, dataset_id: str, verify: bool) -> Iterator[ExportFolder]:
    if not _DATASET_ID.match(dataset_id):
        raise UnsafePathError(f"dataset id {dataset_id!r} is invalid: letters, digits, '_' "
                              "and '-' only")
    root = store.child(dataset_id)
    stamps = sorted((m.group(1) for m in map(_FOLDER.match, root.listdir()) if m),
                    reverse=True)
    for stamp in stamps:
        folder = _complete(root.child(f"exportTime={stamp}"), dataset_id, stamp, verify)
        if folder is not None:
            yield folder


def _complete(folder: Storage, dataset_id: str, stamp: str,
              verify: bool) -> ExportFolder | None:
    try:
        listing = {f.path: f for f in folder.find(recursive=False)}
    except StorageNotFoundError:
        return None
    if SUCCESS not in listing or MANIFEST not in listing:
        return None
    manifest = _manifest(folder)
    if manifest is None or manifest.get("dataset_id") != dataset_id or \
            manifest.get("export_time") != stamp:
        return None
    for part in manifest["files"]:
        seen = listing.get(part["name"])
        if seen is None or seen.size != part["bytes"]:
            return None
        if verify and _sha256(folder, part["name"]) != part["sha256"]:
            return None
    return ExportFolder(folder.url, stamp, manifest,
                        [folder.url_of(p["name"]) for p in manifest["files"]], folder)


def _manifest(folder: Storage) -> dict[str, Any] | None:
    try:
        data = json.loads(folder.read_bytes(MANIFEST))
    except (ValueError, OSError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list) or \
            not data.get("run_id"):
        return None
    for part in data["files"]:
        # A manifest comes from storage anyone may write: its names must stay in the folder.
        if not isinstance(part, dict) or not _PART.match(str(part.get("name", ""))) or \
                not isinstance(part.get("bytes"), int) or not part.get("sha256"):
            return None
    return data


def _sha256(folder: Storage, name: str) -> str:
    digest = hashlib.sha256()
    with folder.open(name) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
