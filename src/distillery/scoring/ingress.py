"""Scores back through cloud storage, the reference's first way: a CSV file with a header in
`cmle/ingress/{datasetId}/exportTime={YYYYMMDDHHMMSS}/` and a source that ingests each new file
of that folder into the profile-enabled score dataset, mapping userId -> `_{tenant}.userid` and
prediction -> `_{tenant}.propensity`.

The source reads the folder with the dataflows' storage layer (local paths, s3://, az://, gs://
and named connections) and gives each version of each file the dataflows' batch id, so a file
is ingested once and a re-run after a crash finds its batch. Its batches follow the score batch
rules of `ingest` (unknown identities, missing columns, non-numeric scores), which a plain
source dataflow cannot apply yet.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from distillery.errors import BatchFailedError, DistilleryError
from distillery.flows.export import export_time_of
from distillery.flows.source import batch_id_for
from distillery.flows.storage import FileInfo, Storage, is_hidden, open_storage
from distillery.lake.catalog import DatasetRecord
from distillery.scoring.ingest import ingest_scores, score_dataset
from distillery.scoring.schema import SCORES_DATASET

INGRESS = "cmle/ingress"


@dataclass
class IngressFile:
    """A score file written to the ingress path."""

    url: str
    rows: int
    export_time: str


@dataclass
class PickedUp:
    """What the source did with one file: ingested, skipped (already in), or failed."""

    url: str
    state: str
    batch_id: str
    rows: int = 0
    failed_rows: int = 0
    message: str = ""


def ingress_folder(url: str, dataset: DatasetRecord) -> str:
    """The reference's ingress folder of a dataset under a storage URL."""
    return f"{url.rstrip('/')}/{INGRESS}/{dataset.id}"


def write_ingress(platform: Any, rows: pa.RecordBatchReader, url: str,
                  dataset: DatasetRecord, moment: datetime | None = None) -> IngressFile:
    """Write the rows as one CSV with a header under the dataset's ingress folder; the file
    appears whole or not at all."""
    stamp = export_time_of(moment)
    storage = open_storage(url, home=platform.home)
    rel = f"{INGRESS}/{dataset.id}/exportTime={stamp}/part-00000.csv"
    count = 0
    with storage.writing(rel) as fh, pacsv.CSVWriter(fh, rows.schema) as writer:
        for batch in rows:
            writer.write_batch(batch)
            count += batch.num_rows
    return IngressFile(storage.url_of(rel), count, stamp)


def pick_up(platform: Any, url: str, dataset: str = SCORES_DATASET, *,
            error_threshold: float | None = None) -> list[PickedUp]:
    """Ingest every new CSV file under the dataset's ingress folder, one batch per file.

    A file that fails its batch is reported (and tried again on the next pick-up); the others
    are still ingested.
    """
    ds = score_dataset(platform, dataset)
    folder = open_storage(ingress_folder(url, ds), home=platform.home)
    if not folder.exists():
        return []
    out = []
    for info in folder.find():
        if any(is_hidden(p) for p in info.path.split("/")) or \
                not info.path.lower().endswith(".csv"):
            continue
        out.append(_one(platform, ds, folder, info, error_threshold))
    return out


def _one(platform: Any, ds: DatasetRecord, folder: Storage, info: FileInfo,
         error_threshold: float | None) -> PickedUp:
    file_url = folder.url_of(info.path)
    bid = batch_id_for(f"scores-ingress-{ds.id}", file_url, info.fingerprint)
    done = platform.catalog.find_batch(bid)
    if done is not None and done.state == "success":
        return PickedUp(file_url, "skipped", bid, done.output_records, done.failed_records)
    try:
        with tempfile.TemporaryDirectory(prefix="distillery-ingress-") as tmp:
            local = Path(tmp) / "scores.csv"
            folder.download(info.path, local)
            rec = ingest_scores(platform, local, ds.name, batch_id=bid, source=file_url,
                                error_threshold=error_threshold)
    except BatchFailedError as exc:
        failed = platform.catalog.find_batch(bid)
        return PickedUp(file_url, "failed", bid, 0, failed.failed_records if failed else 0,
                        str(exc))
    except DistilleryError as exc:
        return PickedUp(file_url, "failed", bid, message=str(exc))
    return PickedUp(file_url, "ingested", bid, rec.output_records, rec.failed_records,
                    rec.message)
