"""The roles of a training set's columns: label, features (numeric, categorical, boolean), the
person each row belongs to, and the cutoff time it describes.

Any training set works: roles come from explicit options first, then the feature definition,
then names and Arrow types. Columns that cannot be features (timestamps, nested values,
identifiers, all-null columns) are left out with the reason recorded for the model card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.ml import definition as defn
from distillery.ml.errors import LabelError, TrainingError

NUMERIC, CATEGORICAL, BOOLEAN = "numeric", "categorical", "boolean"
KINDS = (NUMERIC, CATEGORICAL, BOOLEAN)
LABEL_NAMES = ("label", "subscriptionOccurred", "subscription_occurred", "converted", "target")
PERSON_NAMES = ("userid", "user_id", "userId", "person_id", "personid", "ecid", "customer_id",
                "customerid", "profile_id")
CUTOFF_NAMES = ("cutoff", "cutoff_time", "cutoff_ts", "as_of")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
# A string column with more distinct values than this share of rows names things, not kinds.
_IDENTIFIER_SHARE = 0.5


@dataclass
class Columns:
    """The roles of a training set's columns.

    Attributes:
        label: The label column.
        features: Feature columns, in model input order.
        kinds: Each feature's kind: numeric, categorical or boolean.
        person: Column identifying the person (rows of one person stay on one side of a split).
        cutoff: Column holding each row's cutoff time (several cutoffs: split by time too).
        excluded: Columns left out, with the reason.
    """

    label: str
    features: list[str]
    kinds: dict[str, str]
    person: str | None = None
    cutoff: str | None = None
    excluded: dict[str, str] = field(default_factory=dict)


def resolve(table: pa.Table, *, label: str | None = None, features: list[str] | None = None,
            exclude: list[str] | tuple[str, ...] = (), kinds: Mapping[str, str] | None = None,
            person: str | None = None, cutoff: str | None = None,
            definition: dict[str, Any] | None = None, name: str = "training set") -> Columns:
    """Decide the role of every column of `table`.

    Args:
        table: The training set.
        label: Label column (default: the definition's, else a usual name such as `label`).
        features: Feature columns (default: the definition's, else every usable column).
        exclude: Columns never used as features.
        kinds: Declared kinds that override inference, e.g. {"region_code": "categorical"}.
        person: Person column (default: the definition's, else `userid` or a usual name).
        cutoff: Cutoff-time column (default: the definition's, else `cutoff` if present).
        definition: The training set's feature definition, if any.
        name: How to name the training set in errors.

    Raises:
        TrainingError: a named column does not exist, or no feature is left.
        LabelError: no label column can be found.
    """
    names = table.column_names
    label = _pick(label, defn.label(definition), LABEL_NAMES, names, "label", name)
    if label is None:
        raise LabelError(f"{name} has no label column: pass --label (one of its columns: "
                         f"{', '.join(names)})")
    person = _pick(person, defn.person(definition), PERSON_NAMES, names, "person", name)
    cutoff = _pick(cutoff, defn.cutoff(definition), CUTOFF_NAMES, names, "cutoff", name)
    for column in [*(features or []), *exclude, *(kinds or {})]:
        _require(column, names, "column", name)
    declared = features or [c for c in (defn.features(definition) or []) if c in names]
    roles = {label, person, cutoff} - {None}
    out = Columns(label=label, features=[], kinds={}, person=person, cutoff=cutoff)
    candidates = declared or [c for c in names if c not in roles]
    for column in candidates:
        if column in roles:
            raise TrainingError(f"column {column!r} of {name} cannot be a feature: it is the "
                                f"{'label' if column == label else 'person or cutoff'} column")
        if column in exclude:
            out.excluded[column] = "excluded by option"
            continue
        kind, reason = _kind(table.schema.field(column).type, (kinds or {}).get(column))
        if kind is None:
            out.excluded[column] = reason
            continue
        if not declared and kind == CATEGORICAL and _looks_like_identifier(table[column]):
            out.excluded[column] = "string with a distinct value in most rows (an identifier?)"
            continue
        if table[column].null_count == table.num_rows and table.num_rows:
            out.excluded[column] = "every value is null"
            continue
        out.features.append(column)
        out.kinds[column] = kind
    if not out.features:
        raise TrainingError(f"{name} has no usable feature column (left out: "
                            f"{_describe(out.excluded) or 'none'})")
    return out


def _pick(explicit: str | None, from_definition: str | None, usual: tuple[str, ...],
          names: list[str], role: str, name: str) -> str | None:
    if explicit is not None:
        return _require(explicit, names, f"{role} column", name)
    if from_definition is not None and from_definition in names:
        return from_definition
    lowered = {n.lower(): n for n in names}
    return next((lowered[u.lower()] for u in usual if u.lower() in lowered), None)


def _require(column: str, names: list[str], what: str, name: str) -> str:
    if column not in names:
        raise TrainingError(f"{what} {column!r} is not in {name} (its columns: "
                            f"{', '.join(names)})")
    return column


def _kind(arrow_type: pa.DataType, declared: str | None) -> tuple[str | None, str]:
    if declared is not None:
        if declared not in KINDS:
            raise TrainingError(f"feature kind {declared!r} is unknown: use one of "
                                f"{', '.join(KINDS)}")
        return declared, ""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_boolean(arrow_type):
        return BOOLEAN, ""
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) \
            or pa.types.is_decimal(arrow_type):
        return NUMERIC, ""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return CATEGORICAL, ""
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return None, "a time, not a feature (derive recency in the training set)"
    if pa.types.is_null(arrow_type):
        return None, "every value is null"
    return None, f"type {arrow_type} is not numeric, boolean or a string"


def _looks_like_identifier(column: pa.ChunkedArray) -> bool:
    rows = len(column) - column.null_count
    if rows < 100:
        return False
    return pc.count_distinct(column).as_py() > _IDENTIFIER_SHARE * rows


def _describe(excluded: dict[str, str]) -> str:
    return "; ".join(f"{c}: {r}" for c, r in excluded.items())


def binary_label(column: pa.ChunkedArray, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The label as 0/1, with a mask of the rows that have one.

    Accepts booleans, 0/1 numbers, non-negative counts (positive when above 0, as the
    reference's subscriptionOccurred is a count of conversions) and true/false-like strings.

    Returns:
        (labels as int8, mask of non-null rows, how the label was read).

    Raises:
        LabelError: the column holds something else, or one class only.
    """
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    present = pc.drop_null(column)
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_boolean(kind):
        y, how = present.to_numpy(zero_copy_only=False).astype(np.int8), "boolean"
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        y, how = _numeric_label(present.cast(pa.float64()).to_numpy(zero_copy_only=False), name)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        y, how = _text_label(present, name)
    else:
        raise LabelError(f"label column {name!r} has type {column.type}; a label must be "
                         "boolean, 0/1 or a count")
    _two_classes(y, name)
    return y, valid, how


def _numeric_label(values: np.ndarray, name: str) -> tuple[np.ndarray, str]:
    distinct = np.unique(values)
    if np.isin(distinct, (0.0, 1.0)).all():
        return values.astype(np.int8), "0/1"
    if (distinct >= 0).all() and (distinct == np.round(distinct)).all():
        return (values > 0).astype(np.int8), "count (positive when above 0)"
    shown = ", ".join(f"{v:g}" for v in distinct[:5])
    raise LabelError(f"label column {name!r} holds values such as {shown}: a label must be "
                     "0/1, boolean or a count of conversions")


def _text_label(values: pa.ChunkedArray, name: str) -> tuple[np.ndarray, str]:
    text = np.char.lower(np.asarray(values.to_pylist(), dtype=str))
    distinct = set(np.unique(text).tolist())
    if distinct <= _TRUE | _FALSE:
        return np.isin(text, list(_TRUE)).astype(np.int8), "true/false text"
    shown = ", ".join(sorted(distinct)[:5])
    raise LabelError(f"label column {name!r} holds text values ({shown}); use true/false, "
                     "yes/no or 0/1")


def _two_classes(y: np.ndarray, name: str) -> None:
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        only = "positive" if positives else "negative"
        raise LabelError(f"label column {name!r} has only {only} rows ({len(y)}): a model needs "
                         "both positives and negatives")
