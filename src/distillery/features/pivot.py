"""Long form to wide: one row per person, one column per feature.

The long form has a row per (person, event type) with that pair's counts, recency, tenure and
sums, all computed by the engine (pit.py). This step only places values (a column per event type
of the definition) and combines a person's rows into the all-types features: counts and sums add
up, recency is the smallest, tenure the largest. It is NumPy over arrays the size of the long
form (about 4 rows per person) and takes about a second per million people, where a pivot in
SQL took 5 to 16 s.

Row order is the order people first appear in the long form (unspecified, as in SQL). Measure
sums over several event types are added here; a sum within one person and type is the engine's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.features.definition import FeatureColumn, FeatureDefinition
from distillery.features.timeparse import micros

TIMESTAMP = pa.timestamp("us", tz="UTC")


def schema(d: FeatureDefinition) -> pa.Schema:
    """The Arrow schema of the event features (identity, cutoff, features; no profiles)."""
    fields = [pa.field(d.identity_column, pa.string()), pa.field("cutoff", TIMESTAMP)]
    fields += [pa.field(c.name, pa.int64() if c.kind in ("count", "events") else pa.float64())
               for c in d.columns() if c.kind != "profile"]
    return pa.schema(fields)


def to_wide(long: pa.Table, d: FeatureDefinition, cutoff: datetime,
            exclude: pa.Array | None = None, threads: int = 2) -> pa.Table:
    """One row per person from the long form of `pit.long_form`, leaving out the people in
    `exclude` (dropped before the columns are built, so nothing is copied twice)."""
    target = schema(d)
    if long.num_rows == 0:
        return target.empty_table()
    people, idx = _people(long.column("person"))
    codes = pc.fill_null(long.column("type_code"), len(d.event_types)).to_numpy()
    people, idx, codes, subset = _without(people, idx, codes.astype(np.int64), exclude)
    if len(people) == 0:
        return target.empty_table()
    at = _Places(long, len(people), len(d.event_types), idx, codes, subset)
    at.prepare()
    wanted = [c for c in d.columns() if c.kind != "profile"]
    arrays: dict[str, pa.Array] = {
        d.identity_column: people,
        "cutoff": pa.array(np.full(len(people), micros(cutoff), dtype=np.int64), TIMESTAMP),
    }
    # NumPy releases the GIL while it scatters, so columns are built on `threads` threads.
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="distillery-pivot") as pool:
        arrays.update(zip([c.name for c in wanted],
                          pool.map(lambda c: _column(c, d, at), wanted), strict=True))
    return pa.Table.from_arrays([arrays[f.name] for f in target], schema=target)


def _without(people: pa.Array, idx: np.ndarray, codes: np.ndarray, exclude: pa.Array | None
             ) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray | None]:
    """Leave out the excluded people: fewer people, their rows dropped, positions renumbered,
    and the long-form rows kept (None when all are)."""
    if exclude is None or not len(exclude):
        return people, idx, codes, None
    keep = pc.invert(pc.is_in(people, value_set=exclude)).to_numpy(zero_copy_only=False)
    if keep.all():
        return people, idx, codes, None
    rows = np.flatnonzero(keep[idx])
    return (people.filter(pa.array(keep)), (np.cumsum(keep) - 1)[idx[rows]], codes[rows],
            rows)


class _Places:
    """Where each long-form row goes: its person's row and its event type's column."""

    def __init__(self, long: pa.Table, people: int, types: int, idx: np.ndarray,
                 codes: np.ndarray, subset: np.ndarray | None) -> None:
        self.long, self.people, self.idx, self.subset = long, people, idx, subset
        # Rows grouped by event type: each type's column is then filled from its own rows, so
        # the scattered writes land in one person-sized array at a time (cache-friendly).
        small = codes.astype(np.int16) if types < 2**15 else codes  # radix sort for small ints
        order = np.argsort(small, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(types + 1))
        self._rows = [order[bounds[k]:bounds[k + 1]] for k in range(types)]
        self._targets = [idx[rows] for rows in self._rows]
        self._columns: dict[tuple[str, str], np.ndarray] = {}

    def prepare(self) -> None:
        """Convert every long-form column once, before threads read them."""
        for name in self.long.column_names:
            if name.startswith("n_"):
                self.values(name, np.int64)
            if name not in ("person", "type_code"):
                self.values(name, np.float64)

    def values(self, name: str, dtype: type) -> np.ndarray:
        """A long-form column as NumPy, NULL as 0 (a SQL SUM over no rows is NULL)."""
        key = (name, np.dtype(dtype).str)
        if key not in self._columns:
            column = self.long.column(name)
            if column.null_count:
                column = pc.fill_null(column, 0)
            values = column.to_numpy().astype(dtype, copy=False)
            self._columns[key] = values if self.subset is None else values[self.subset]
        return self._columns[key]

    def of_type(self, name: str, dtype: type, k: int) -> np.ndarray:
        """Event type k's column of a long-form column (0 where a person has no row)."""
        out: np.ndarray = np.zeros(self.people, dtype=dtype)
        out[self._targets[k]] = self.values(name, dtype)[self._rows[k]]
        return out

    def missing(self, k: int) -> np.ndarray:
        """Whether each person has no row of event type k."""
        out = np.ones(self.people, dtype=bool)
        out[self._targets[k]] = False
        return out

    def total(self, name: str) -> np.ndarray:
        """Per person, the sum of a long-form column over the person's rows."""
        return np.bincount(self.idx, weights=self.values(name, np.float64),
                           minlength=self.people)

    def reduce(self, name: str, ufunc: np.ufunc, start: float) -> np.ndarray:
        """Per person, `ufunc` (minimum or maximum) of a column over the person's rows."""
        out = np.full(self.people, start)
        ufunc.at(out, self.idx, self.values(name, np.float64))
        return out


def _column(c: FeatureColumn, d: FeatureDefinition, at: _Places) -> pa.Array:
    window = "all" if c.window_days is None else f"{c.window_days}d"
    if c.kind == "count":
        k = d.event_types.index(c.event_type)
        return pa.array(at.of_type(f"n_{window}", np.int64, k))
    if c.kind == "events":
        # Float sums of whole counts are exact far beyond any realistic count (2**53).
        return pa.array(at.total(f"n_{window}").astype(np.int64))
    if c.kind == "sum":
        return pa.array(at.total(f"m_{d.measures.index(c.measure)}_{window}"))
    if c.kind == "tenure":
        return pa.array(at.reduce("tenure_days", np.maximum, -np.inf))
    if c.event_type is None:
        return pa.array(at.reduce("recency_min", np.minimum, np.inf))
    k = d.event_types.index(c.event_type)
    # Never seen before the cutoff: NULL, not a made-up number (the model decides).
    return pa.array(at.of_type("recency_min", np.float64, k), mask=at.missing(k))


def _people(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct people, and each row's position among them."""
    # Chunks encoded together share one dictionary: no copy of the strings is needed.
    encoded = pc.dictionary_encode(column.cast(pa.string()))
    indices = np.concatenate([c.indices.to_numpy() for c in encoded.chunks])
    return encoded.chunks[-1].dictionary, indices.astype(np.int64)
