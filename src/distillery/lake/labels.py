"""Data-usage labels: on datasets and on field paths, carried to derived data, checked per purpose.

Labels are Adobe's contract labels (C1 ... C12). A label on a dataset covers every field of it; a
label on a field covers the field, everything under it (a label on `person` covers
`person.name.firstName`) and any struct that contains it (reading `person` reads the labelled
child). Steps that derive data call `propagate`, steps that let data leave or use it call
`check`:

    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    found = labels.labels_for(platform, "profiles", ["personalEmail.address", "_acme.userid"])
    labels.check("activation:third-party", found, dataset="profiles")   # GovernanceError

Dataset-level labels live in the catalog's `datasets.labels_json` (next to other table labels
such as PROFILE, which are not usage labels and are left alone); field labels in `field_labels`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from distillery.errors import DistilleryError
from distillery.lake.catalog import Catalog, DatasetRecord, now_iso

LABELS: dict[str, str] = {
    "C1": "only aggregated export: no individual or device-level data leaves",
    "C2": "no export to third parties",
    "C3": "no combining with directly identifiable information",
    "C4": "no on-site or off-site targeting",
    "C5": "no interest-based targeting or cross-site profiling",
    "C6": "no on-site advertising",
    "C7": "no on-site targeting for content personalisation",
    "C8": "no measurement of websites or apps",
    "C9": "not for data science",
    "C10": "no stitched identity usage",
    "C11": "no segment match",
    "C12": "no export of any kind",
}

# Purpose -> the labels that forbid it. An activation is targeting and an export at once, so
# a destination checks several purposes (see `purposes_of`).
PURPOSES: dict[str, frozenset[str]] = {
    "export": frozenset({"C1", "C12"}),
    "export:third-party": frozenset({"C1", "C2", "C12"}),
    "activation:targeting": frozenset({"C1", "C4", "C12"}),
    "activation:third-party": frozenset({"C1", "C2", "C4", "C12"}),
    "activation:interest": frozenset({"C1", "C4", "C5", "C12"}),
    "training": frozenset({"C9"}),
    "data-science": frozenset({"C9"}),
}

ALL_FIELDS = "*"

LabelSource = Any  # a Platform or a Catalog
Labelled = Mapping[str, Iterable[str]]


class LabelError(DistilleryError, ValueError):
    """A label, field path or purpose is unknown."""


class GovernanceError(DistilleryError, PermissionError):
    """A data-usage label forbids what was asked; nothing was used or sent.

    Attributes:
        label: The label that forbids it (e.g. "C2").
        field: The labelled field path ("*" for a label on the whole dataset).
        dataset: The dataset the field belongs to, when known.
        purpose: The refused purpose (e.g. "activation:third-party").
    """

    def __init__(self, message: str, *, label: str = "", field: str = "",
                 dataset: str | None = None, purpose: str = "") -> None:
        super().__init__(message)
        self.label, self.field, self.dataset, self.purpose = label, field, dataset, purpose


@dataclass(frozen=True)
class Violation:
    """One label on one field that forbids one purpose."""

    label: str
    field: str
    purpose: str
    dataset: str | None = None
    note: str = ""

    def message(self) -> str:
        """A sentence naming the label, its meaning, the field and the purpose."""
        where = "every field" if self.field == ALL_FIELDS else f"field {self.field!r}"
        of = f" of dataset {self.dataset!r}" if self.dataset else ""
        note = f" ({self.note})" if self.note else ""
        return (f"label {self.label} ({LABELS.get(self.label, 'custom label')}) on {where}{of}"
                f"{note} forbids {self.purpose}")


# Names and checks -----------------------------------------------------------------------------


def normalize_label(label: str) -> str:
    """A usage label in its canonical form ("c2" -> "C2"); LabelError for an unknown one."""
    code = str(label).strip().upper()
    if code not in LABELS:
        raise LabelError(f"unknown data-usage label {label!r}; known labels: "
                         + ", ".join(f"{k} ({v})" for k, v in LABELS.items()))
    return code


def normalize_purpose(purpose: str) -> str:
    """A purpose as known to `PURPOSES`; LabelError names the known ones."""
    if purpose not in PURPOSES:
        raise LabelError(f"unknown purpose {purpose!r}; use one of {sorted(PURPOSES)}")
    return purpose


def purposes_of(*, third_party: bool, interest_based: bool = False) -> list[str]:
    """What an activation to a destination is for: always an export and targeting."""
    out = ["export", "activation:targeting"]
    if third_party:
        out += ["export:third-party", "activation:third-party"]
    if interest_based:
        out.append("activation:interest")
    return out


def violations(purpose: str | Iterable[str], labelled_fields: Labelled, *,
               dataset: str | None = None) -> list[Violation]:
    """Every (label, field, purpose) that forbids the use, in a stable order."""
    purposes = [purpose] if isinstance(purpose, str) else list(purpose)
    found: list[Violation] = []
    for p in purposes:
        forbidden = PURPOSES[normalize_purpose(p)]
        for field_path in sorted(labelled_fields, key=lambda f: (f != ALL_FIELDS, f)):
            for label in sorted(set(labelled_fields[field_path]) & forbidden):
                found.append(Violation(label, field_path, p, dataset))
    return found


def check(purpose: str | Iterable[str], labelled_fields: Labelled, *,
          dataset: str | None = None) -> None:
    """Refuse a use of fields whose labels forbid it.

    Args:
        purpose: One purpose or several (see `PURPOSES`), e.g. "training".
        labelled_fields: Field path -> labels, as `labels_for` returns ("*" = every field).
        dataset: The dataset the fields belong to, for the message.

    Raises:
        GovernanceError: naming the first forbidding label, its field and the purpose.
    """
    found = violations(purpose, labelled_fields, dataset=dataset)
    if found:
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise GovernanceError(first.message() + more, label=first.label, field=first.field,
                              dataset=first.dataset, purpose=first.purpose)


# Reading --------------------------------------------------------------------------------------


def _catalog(source: LabelSource) -> Catalog:
    return source if isinstance(source, Catalog) else source.catalog


def _dataset(catalog: Catalog, dataset: str | DatasetRecord) -> DatasetRecord:
    return catalog.dataset(dataset.id if isinstance(dataset, DatasetRecord) else dataset)


def dataset_labels(source: LabelSource, dataset: str | DatasetRecord) -> frozenset[str]:
    """The usage labels on a whole dataset."""
    ds = _dataset(_catalog(source), dataset)
    return frozenset(label for label in ds.labels if label in LABELS)


def field_labels(source: LabelSource, dataset: str | DatasetRecord) -> dict[str, frozenset[str]]:
    """The labels set on each field path of a dataset (not counting dataset-level ones)."""
    catalog = _catalog(source)
    ds = _dataset(catalog, dataset)
    with catalog.connect() as con:
        rows = con.execute("SELECT path, label FROM field_labels WHERE dataset_id = ?"
                           " ORDER BY path, label", (ds.id,)).fetchall()
    out: dict[str, set[str]] = {}
    for row in rows:
        out.setdefault(row["path"], set()).add(row["label"])
    return {k: frozenset(v) for k, v in out.items()}


def labels_for(source: LabelSource, dataset: str | DatasetRecord,
               fields: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
    """The labels that apply to fields of a dataset.

    Args:
        source: A Platform or its Catalog.
        dataset: Dataset name, id, table name or record.
        fields: Field paths. For each, the result holds the dataset's labels plus those on
            the field, on any struct containing it and on anything under it. Without fields,
            the result holds "*" (the dataset's own labels, when any) and every labelled path.

    Raises:
        NotFoundError: the dataset does not exist.
        LabelError: a field is not a field of the dataset.
    """
    catalog = _catalog(source)
    ds = _dataset(catalog, dataset)
    whole = dataset_labels(catalog, ds)
    on_fields = field_labels(catalog, ds)
    if fields is None:
        out = {ALL_FIELDS: whole} if whole else {}
        out.update(on_fields)
        return out
    known = {p for p, _ in ds.schema.leaves()}
    return {f: whole | _covering(ds, known, on_fields, f) for f in fields}


def has_labels(source: LabelSource, dataset: str | DatasetRecord) -> bool:
    """Whether a dataset carries any usage label, on itself or on a field."""
    catalog = _catalog(source)
    ds = _dataset(catalog, dataset)
    return bool(dataset_labels(catalog, ds)) or bool(field_labels(catalog, ds))


def _covering(ds: DatasetRecord, known: set[str], on_fields: Mapping[str, frozenset[str]],
              path: str) -> frozenset[str]:
    """The field labels that cover `path`: on it, on a struct holding it, on a child of it."""
    if path not in known:
        raise LabelError(f"field {path!r} is not a field of dataset {ds.name!r}")
    found: set[str] = set()
    for labelled, marks in on_fields.items():
        if related(labelled, path):
            found |= marks
    return frozenset(found)


def related(a: str, b: str) -> bool:
    """Whether one field path is the other, contains it, or lies under it (a label on either
    covers both)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


# Writing --------------------------------------------------------------------------------------


def add_labels(source: LabelSource, dataset: str | DatasetRecord, labels: Iterable[str], *,
               field: str | None = None, origin: str = "") -> frozenset[str]:
    """Put usage labels on a dataset, or on one field path of it; return that target's labels.

    Raises:
        LabelError: an unknown label, or a field that is not in the dataset's schema.
    """
    catalog = _catalog(source)
    ds = _dataset(catalog, dataset)
    codes = [normalize_label(x) for x in labels]
    if field is None or field == ALL_FIELDS:
        current = list(ds.labels)
        current += [c for c in codes if c not in current]
        catalog.update_dataset(ds.id, labels=current)
        return dataset_labels(catalog, ds.id)
    _check_field(ds, field)
    with catalog.connect() as con:
        con.executemany("INSERT OR IGNORE INTO field_labels (dataset_id, path, label, origin,"
                        " created_at) VALUES (?, ?, ?, ?, ?)",
                        [(ds.id, field, c, origin, now_iso()) for c in codes])
    return field_labels(catalog, ds).get(field, frozenset())


def remove_labels(source: LabelSource, dataset: str | DatasetRecord, labels: Iterable[str], *,
                  field: str | None = None) -> frozenset[str]:
    """Take usage labels off a dataset or one field path; return that target's labels."""
    catalog = _catalog(source)
    ds = _dataset(catalog, dataset)
    codes = {normalize_label(x) for x in labels}
    if field is None or field == ALL_FIELDS:
        catalog.update_dataset(ds.id, labels=[x for x in ds.labels if x not in codes])
        return dataset_labels(catalog, ds.id)
    _check_field(ds, field)
    with catalog.connect() as con:
        con.executemany("DELETE FROM field_labels WHERE dataset_id = ? AND path = ? AND label = ?",
                        [(ds.id, field, c) for c in codes])
    return field_labels(catalog, ds).get(field, frozenset())


def _check_field(ds: DatasetRecord, path: str) -> None:
    if path not in {p for p, _ in ds.schema.leaves()}:
        raise LabelError(f"field {path!r} is not a field of dataset {ds.name!r}")


def propagate(catalog: LabelSource, sources: Iterable[str | DatasetRecord],
              target: str | DatasetRecord,
              column_lineage: Mapping[str, Iterable[str | tuple[str, str]]] | None = None
              ) -> dict[str, frozenset[str]]:
    """Carry labels from source datasets to a dataset derived from them.

    Without lineage, the target as a whole gets every label of every source (dataset- and
    field-level): the safe answer when it is unknown which column came from where. With
    lineage, each target path gets the field labels of the source fields it was computed
    from; the key "*" lists source fields that shaped the whole target (filters, joins), whose
    labels go on the target dataset. A source's dataset-level labels cover every field of it,
    so they go on the whole target either way.

    Args:
        catalog: A Catalog or a Platform.
        sources: The datasets read.
        target: The dataset written.
        column_lineage: Target path -> source fields, each `(dataset, path)` or, with a single
            source, a plain path.

    Returns:
        What was added: target path ("*" for the dataset) -> labels.

    Raises:
        LabelError: the lineage names a dataset that is not a source, or a field that is not
            a field of its dataset; nothing was added.
    """
    cat = _catalog(catalog)
    srcs = [_dataset(cat, s) for s in sources]
    tgt = _dataset(cat, target)
    on_fields = {s.id: field_labels(cat, s) for s in srcs}
    known = {s.id: {p for p, _ in s.schema.leaves()} for s in srcs}
    added: dict[str, set[str]] = {ALL_FIELDS: set()}
    for src in srcs:
        added[ALL_FIELDS] |= dataset_labels(cat, src)
        if column_lineage is None:
            for marks in on_fields[src.id].values():
                added[ALL_FIELDS] |= marks
    for path, refs in (column_lineage or {}).items():
        for src, src_path in _refs(refs, srcs):
            marks = _covering(src, known[src.id], on_fields[src.id], src_path)
            added.setdefault(path, set()).update(marks)
    for path, found in added.items():
        if found and path != ALL_FIELDS:
            _check_field(tgt, path)  # every target path first, so a bad one adds nothing
    return _add_all(cat, tgt, added, origin="propagated from " + ", ".join(s.name for s in srcs))


def _add_all(cat: Catalog, target: DatasetRecord, added: Mapping[str, set[str]],
             origin: str) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for path, found in added.items():
        if found:
            add_labels(cat, target.id, sorted(found),
                       field=None if path == ALL_FIELDS else path, origin=origin)
            out[path] = frozenset(found)
    return out


def _refs(refs: Iterable[str | tuple[str, str]],
          sources: list[DatasetRecord]) -> list[tuple[DatasetRecord, str]]:
    by_key = {}
    for s in sources:
        by_key.update({s.id: s, s.name: s, s.table_name: s})
    out = []
    for ref in ([refs] if isinstance(refs, str | tuple) else refs):
        if isinstance(ref, tuple):
            ds_key, path = ref
            if ds_key not in by_key:
                raise LabelError(f"lineage names dataset {ds_key!r}, which is not one of the "
                                 f"sources {[s.name for s in sources]}")
            out.append((by_key[ds_key], path))
        elif len(sources) == 1:
            out.append((sources[0], ref))
        else:
            raise LabelError(f"lineage field {ref!r} must name its dataset as (dataset, path) "
                             "when there are several sources")
    return out


def describe(labels: Iterable[str]) -> list[dict[str, str]]:
    """Labels with their meanings, for display."""
    return [{"label": x, "meaning": LABELS.get(x, "")} for x in sorted(labels)]
