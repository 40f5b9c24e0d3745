"""Dataset samples: `ANALYZE TABLE t [FILTERCONTEXT (cond)] TABLESAMPLE SAMPLERATE r` and
`sample_meta('t')`.

A sample is a new dataset (same schema, one batch) holding a uniform Bernoulli sample of the
table's rows (those matching FILTERCONTEXT, when given): each row is kept with probability r,
drawn from a seeded generator so `REPEATABLE (seed)` gives the same sample again. The rate is a
fraction in (0, 1]. AEP's documentation counts the rate in tenths (10 = 100%, so its notebooks
write 0.5 for 5%); `SET samplerate_unit = aep` reads rates that way. Dropping the table drops
its samples. A sample holds the table's rows, so it gets the table's data-usage labels, on the
dataset and on the same fields.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from distillery.errors import QueryError
from distillery.lake import labels
from distillery.lake.catalog import DatasetRecord, now_iso
from distillery.sql.result import Result
from distillery.sql.values import Columns

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

SAMPLE_COLUMNS: Columns = [
    ("sample_table_name", "STRING"), ("sample_dataset_id", "STRING"),
    ("parent_dataset_id", "STRING"), ("sample_type", "STRING"), ("sampling_rate", "DOUBLE"),
    ("filter_condition_on_source_dataset", "STRING"), ("sample_num_rows", "BIGINT"),
    ("created", "TIMESTAMP"), ("seed", "BIGINT"),
]


def fraction(rate: float, session: Session) -> float:
    """The sampling rate as a fraction of rows, checked to be in (0, 1]."""
    scaled = rate / 10 if session.settings.get("samplerate_unit") == "aep" else rate
    if not 0 < scaled <= 1:
        unit = " (AEP units: 10 = 100%)" if scaled != rate else ""
        raise QueryError(f"sample rate {rate}{unit} must be above 0 and at most 1 "
                         "(0.05 is a 5% sample)", sqlstate="22023")
    return scaled


def create_sample(service: QueryService, session: Session, ds: DatasetRecord, rate: float,
                  seed: int | None, condition: exp.Expression | None,
                  params: dict[str, Any] | None) -> Result:
    """Write a uniform sample of `ds` as a new dataset with its usage labels, and record it."""
    share = fraction(rate, session)
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
    query = exp.select("*").from_(exp.to_table(ds.table_name))
    if condition is not None:
        query = query.where(condition)
    reader = service.open(session, query, params)
    name = _free_name(service, ds.table_name)
    sample = service.lake.create_dataset(
        name, ds.schema, table_name=name, tags={"sample_of": ds.id},
        description=f"uniform {share:.4%} sample of {ds.table_name} (seed {seed})")
    try:
        # Labels first, so the rows are never readable without them.
        _copy_labels(service, ds, sample, condition)
        record = service.lake.write(sample.id, _bernoulli(reader, share, seed),
                                    error_threshold=0)
        with service.lake.catalog.connect() as con:
            con.execute("INSERT INTO dataset_samples (dataset_id, parent_id, rate, seed, filter,"
                        " rows, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (sample.id, ds.id, share, seed,
                         condition.sql("spark") if condition is not None else None,
                         record.output_records, now_iso()))
    except BaseException:
        service.lake.drop_dataset(sample.id)
        raise
    table = pa.table({"sample_table_name": [name], "sample_dataset_id": [sample.id],
                      "sampling_rate": [share], "sample_num_rows": [record.output_records],
                      "seed": pa.array([seed], pa.int64())})
    return Result.of(table, status="ANALYZE TABLESAMPLE", rowcount=record.output_records)


def _copy_labels(service: QueryService, ds: DatasetRecord, sample: DatasetRecord,
                 condition: exp.Expression | None) -> None:
    """Give `sample` the usage labels of `ds`: its dataset-level ones, each field's on the same
    field (the schemas are the same), and the labels of the fields FILTERCONTEXT reads on the
    whole sample, since they chose every row (as a CTAS's WHERE does, `sql/lineage.py`).
    Not `labels.propagate`, which would also put a field's labels on the structs holding it
    and so on their other fields."""
    catalog = service.lake.catalog
    origin = f"sample of {ds.name}"
    on_fields = labels.field_labels(catalog, ds)
    whole = set(labels.dataset_labels(catalog, ds))
    for path in _paths(condition, ds) if condition is not None else ():
        whole.update(m for labelled, marks in on_fields.items()
                     if labels.related(labelled, path) for m in marks)
    if whole:
        labels.add_labels(catalog, sample.id, sorted(whole), origin=origin)
    for path, marks in on_fields.items():
        labels.add_labels(catalog, sample.id, sorted(marks), field=path, origin=origin)


def _paths(condition: exp.Expression, ds: DatasetRecord) -> set[str]:
    """The field paths a filter reads (`web.webPageDetails.name`), without a table prefix."""
    out = set()
    for column in condition.find_all(exp.Column):
        parts = [p.name for p in column.parts]
        if len(parts) > 1 and parts[0].lower() == ds.table_name.lower():
            parts = parts[1:]
        out.add(".".join(parts))
    return out


def _bernoulli(reader: pa.RecordBatchReader, share: float,
               seed: int) -> pa.RecordBatchReader:
    rng = np.random.default_rng(seed)

    def batches() -> Iterator[pa.RecordBatch]:
        # One draw per row in scan order, so the sample does not depend on batch sizes.
        for batch in reader:
            yield batch.filter(pa.array(rng.random(batch.num_rows) < share))

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _free_name(service: QueryService, table: str) -> str:
    taken = {d.table_name for d in service.lake.datasets()}
    taken |= {v.lower() for v in service.views.names()}
    k = 1
    while f"{table}_sample_{k}" in taken:
        k += 1
    return f"{table}_sample_{k}"


def sample_rows(service: QueryService, ds: DatasetRecord) -> list[dict[str, Any]]:
    """sample_meta('t'): the samples of `ds`, oldest first."""
    with service.lake.catalog.connect() as con:
        rows = con.execute(
            "SELECT s.*, d.table_name FROM dataset_samples s JOIN datasets d "
            "ON d.id = s.dataset_id WHERE s.parent_id = ? ORDER BY s.created_at",
            (ds.id,)).fetchall()
    return [{"sample_table_name": r["table_name"], "sample_dataset_id": r["dataset_id"],
             "parent_dataset_id": r["parent_id"], "sample_type": "uniform",
             "sampling_rate": r["rate"], "filter_condition_on_source_dataset": r["filter"],
             "sample_num_rows": r["rows"], "created": r["created_at"][:26].replace("T", " "),
             "seed": r["seed"]} for r in rows]


def samples_of(service: QueryService, ds: DatasetRecord) -> list[str]:
    """Dataset ids of the samples of `ds`."""
    with service.lake.catalog.connect() as con:
        rows = con.execute("SELECT dataset_id FROM dataset_samples WHERE parent_id = ?",
                           (ds.id,)).fetchall()
    return [r["dataset_id"] for r in rows]
