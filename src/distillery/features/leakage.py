"""The leakage check: does a training set let a model see its label?

Three checks, as `distillery features check DATASET` runs them:

- timing: a feature computed from events at or after the label time. Read from the stored
  feature definition: the point-in-time set's features use events strictly before the cutoff
  and its label looks after it; the reference-compatible set's features run through the training
  row, which for a converter is the conversion itself.
- label: a feature identical to the label, a function of it (one value per class), or, by the
  definition, counting the very events the label is made of through the label time.
- auc: any single feature whose AUC against the label is at least the threshold (0.95).

A profile attribute read from a snapshot newer than the cutoff (`--profiles-as-of latest`) is
reported as a warning, which does not fail the check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.features.auc import auc
from distillery.features.definition import BEFORE_CUTOFF, TAG, FeatureDefinition
from distillery.features.errors import FeatureError
from distillery.features.sqltree import Params, aliased, arrow, col, served

if TYPE_CHECKING:
    from distillery.platform import Platform

DEFAULT_THRESHOLD = 0.95
DEFAULT_MAX_ROWS = 200_000
# With fewer rows of a class, a perfect separation is as likely luck as leakage.
MIN_CLASS_ROWS = 20
_LABELS = ("label", "subscriptionOccurred")


@dataclass(frozen=True)
class Finding:
    """One thing the check found.

    Attributes:
        check: "timing", "label", "auc" or "profile_snapshot".
        column: The feature column concerned.
        severity: "leak" (fails the check) or "warning".
        message: What was found, in words.
        auc: The column's AUC, for the auc check.
    """

    check: str
    column: str
    severity: str
    message: str
    auc: float | None = None


@dataclass
class LeakageReport:
    """The outcome of a leakage check.

    Attributes:
        dataset: The training set checked.
        label: Its label column.
        rows: Rows the data checks used (a seeded sample of large sets).
        columns: Feature columns checked.
        findings: What was found.
        notes: Checks that could not run, and why.
        aucs: Each checked column's AUC (None where it cannot be computed).
    """

    dataset: str
    label: str
    rows: int
    columns: list[str]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    aucs: dict[str, float | None] = field(default_factory=dict)

    @property
    def leaks(self) -> list[Finding]:
        """The findings that fail the check."""
        return [f for f in self.findings if f.severity == "leak"]

    @property
    def passed(self) -> bool:
        """Whether no leakage was found."""
        return not self.leaks

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {"dataset": self.dataset, "label": self.label, "passed": self.passed,
                "rows": self.rows, "columns": self.columns,
                "findings": [asdict(f) for f in self.findings], "notes": self.notes,
                "aucs": self.aucs}


def check_leakage(platform: Platform, dataset: str, *, label: str | None = None,
                  threshold: float = DEFAULT_THRESHOLD, max_rows: int = DEFAULT_MAX_ROWS,
                  seed: int = 0) -> LeakageReport:
    """Check a training set for leakage (see the module docstring).

    Args:
        platform: The platform.
        dataset: The training set's dataset.
        label: The label column (default: the definition's, else `label` or
            `subscriptionOccurred`).
        threshold: The single-feature AUC at which a feature is flagged.
        max_rows: Data checks use a seeded random sample of at most this many rows.
        seed: The sample's seed.

    Raises:
        FeatureError: no label column, a label that is not 0/1, or a bad threshold.
    """
    if not 0.5 < threshold <= 1:
        raise FeatureError(f"--threshold must be in (0.5, 1], got {threshold}")
    record = platform.dataset(dataset)
    definition = FeatureDefinition.from_tags(record.tags, record.name) \
        if TAG in record.tags else None
    names = record.schema.to_arrow().names
    target = _label_column(label, definition, names, record.name)
    features = _feature_columns(definition, names, target)
    data = _read(platform, record, [*features, target], max_rows, seed)
    y = _binary(data.column(target), target, record.name)
    report = LeakageReport(record.name, target, data.num_rows, features)
    if definition is None:
        report.notes.append("no feature definition stored with the dataset: the timing check "
                            "and the definition-based label check were skipped")
    else:
        report.findings += _by_definition(definition, features)
    report.findings += _by_data(data, features, y, threshold, report)
    return report


def _label_column(label: str | None, d: FeatureDefinition | None, names: list[str],
                  dataset: str) -> str:
    wanted = [label] if label else ([d.label] if d else list(_LABELS))
    found = next((n for n in wanted if n in names), None)
    if found is None:
        raise FeatureError(f"dataset {dataset!r} has no label column {' or '.join(wanted)!r}; "
                           f"name it with --label (columns: {', '.join(names[:30])})")
    return found


def _feature_columns(d: FeatureDefinition | None, names: list[str], target: str) -> list[str]:
    if d is not None:
        return [c for c in d.feature_names() if c in names and c != target]
    skip = {target, "cutoff", "userid", "userId"}
    return [n for n in names if n not in skip]


def _read(platform: Platform, record: Any, columns: list[str], max_rows: int,
          seed: int) -> pa.Table:
    with served(platform, record) as name:
        params = Params()
        data = arrow(platform, exp.select(*[col(c) for c in columns]).from_(aliased(name, "t")),
                     params, f"the columns of {record.name!r}")
    if data.num_rows > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(data.num_rows, max_rows,
                                                          replace=False))
        data = data.take(pa.array(rows))
    return data


def _binary(column: pa.ChunkedArray, name: str, dataset: str) -> np.ndarray:
    values = pc.cast(column, pa.float64()).to_numpy() if not pa.types.is_string(column.type) \
        else None
    if values is None or np.isnan(values).any() or not np.isin(values, (0, 1)).all():
        raise FeatureError(f"label column {name!r} of dataset {dataset!r} must hold 0 or 1 in "
                           "every row")
    return values.astype(np.int64)


def _by_definition(d: FeatureDefinition, features: list[str]) -> list[Finding]:
    out: list[Finding] = []
    present = set(features)
    for c in d.columns():
        if c.name not in present:
            continue
        if c.events_until != BEFORE_CUTOFF:
            out.append(Finding("timing", c.name, "leak",
                               "computed from the person's events up to and including the "
                               "training row; for a converter that row is the conversion, at "
                               "the label time"))
            if c.event_type is not None and d.conversion.touches(c.event_type):
                out.append(Finding("label", c.name, "leak",
                                   f"counts {c.event_type!r} events, which the label is made "
                                   "of, through the label time"))
        if c.kind == "profile" and d.profiles is not None and d.profiles.as_of == "latest":
            out.append(Finding("profile_snapshot", c.name, "warning",
                               f"read from the current snapshot of {d.profiles.dataset!r}, which "
                               "may post-date the cutoff"))
    return out


def _by_data(data: pa.Table, features: list[str], y: np.ndarray, threshold: float,
             report: LeakageReport) -> list[Finding]:
    out: list[Finding] = []
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_CLASS_ROWS:
        report.notes.append(f"the data checks need {MIN_CLASS_ROWS} rows of each label class; "
                            f"this set has {positives} positive and {len(y) - positives} "
                            "negative, so they were skipped")
        return out
    for name in features:
        values = data.column(name).combine_chunks()
        same = _same_as_label(values, y)
        if same:
            out.append(Finding("label", name, "leak", same))
        score = auc(values, y)
        report.aucs[name] = None if score is None else round(score, 6)
        if score is not None and max(score, 1 - score) >= threshold:
            out.append(Finding("auc", name, "leak",
                               f"on its own separates the label with AUC {score:.3f} (at "
                               f"least {threshold} counting either direction)", score))
    return out


def _same_as_label(values: pa.Array, y: np.ndarray) -> str | None:
    """Why a column is the label in disguise, or None."""
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
            or pa.types.is_boolean(values.type)):
        return None
    x = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    if len(x) and np.array_equal(x, y.astype(np.float64)):
        return "identical to the label"
    classes = [np.unique(x[y == k], equal_nan=True) for k in (0, 1)]
    if all(len(c) == 1 for c in classes):
        a, b = classes[0][0], classes[1][0]
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            return "a function of the label (one value for each class)"
    return None
