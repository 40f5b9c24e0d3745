"""Writing a training set: one snapshot of a dataset whose tags hold its feature definition."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from distillery.features.definition import TAG, FeatureDefinition
from distillery.features.errors import FeatureError
from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import IdentityDescriptor, Schema, infer_schema

if TYPE_CHECKING:
    from distillery.platform import Platform


def dataset_schema(name: str, arrow_schema: pa.Schema, d: FeatureDefinition) -> Schema:
    """An ad-hoc schema for the rows; the identity column keeps the events' namespace."""
    identities: tuple[IdentityDescriptor, ...] = ()
    if d.identity_namespace:
        identities = (IdentityDescriptor(d.identity_column, d.identity_namespace, primary=True),)
    return infer_schema(arrow_schema, f"Training set {name}", identities=identities)


def write_set(platform: Platform, name: str, rows: pa.RecordBatchReader, d: FeatureDefinition,
              *, replace: bool, description: str) -> DatasetRecord:
    """Write `rows` as dataset `name` in one snapshot, with `d` in its tags.

    Only a dataset that is itself a training set can be replaced, and only by rows with the
    same columns (a new snapshot of it, so its history is kept).

    Raises:
        FeatureError: the dataset exists and `replace` is off, is not a training set, is the
            events dataset, or has other columns. Nothing is written.
    """
    schema = dataset_schema(name, rows.schema, d)
    existing = platform.lake.catalog.find_dataset(name)
    if existing is not None:
        _check_replaceable(existing, schema, d, replace)
    try:
        platform.lake.write(name, rows, schema=schema,
                            mode="overwrite" if existing else "create",
                            tags=d.to_tags(), description=description)
    except BaseException:
        if existing is None:
            _forget(platform, name)
        raise
    record = platform.dataset(name)
    if existing is not None:
        platform.lake.catalog.update_dataset(record.id, tags={**record.tags, **d.to_tags()},
                                             description=description)
    return platform.dataset(name)


def _check_replaceable(existing: DatasetRecord, schema: Schema, d: FeatureDefinition,
                       replace: bool) -> None:
    if existing.id == d.events_id:
        raise FeatureError(f"the output {existing.name!r} is the events dataset itself")
    if not replace:
        raise FeatureError(f"dataset {existing.name!r} exists already; choose another --output "
                           "or pass --replace to write a new snapshot of it")
    if TAG not in existing.tags:
        raise FeatureError(f"dataset {existing.name!r} is not a training set (it has no feature "
                           "definition), so --replace will not overwrite it")
    if existing.schema.to_arrow() != schema.to_arrow():
        raise FeatureError(f"training set {existing.name!r} has other columns than the new one "
                           f"(event types or options changed); write to a new --output, or drop "
                           f"it first (`distillery dataset drop {existing.name}`)")


def _forget(platform: Platform, name: str) -> None:
    """Remove a dataset this write created before it failed, so no empty set is left."""
    created = platform.lake.catalog.find_dataset(name)
    if created is not None and created.version <= 0:
        platform.lake.drop_dataset(created.id)
