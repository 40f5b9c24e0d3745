"""Row-for-row, value-for-value comparison of two Arrow tables from two engines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOLERANCE = 1e-9  # floats: |a - b| <= 1e-9 * max(1, |a|); everything else exactly


def sortable(table: pa.Table) -> list[str]:
    """Columns a table can be sorted by (not nested)."""
    return [f.name for f in table.schema if not pa.types.is_nested(f.type)]


def assert_same_rows(left: pa.Table, right: pa.Table, keys: list[str] | None = None, *,
                     same_types: bool = True) -> None:
    """The two tables hold the same rows once sorted by `keys` (default: every sortable
    column): same columns (and types), same number of rows, equal values, NULL where the
    other is NULL."""
    assert left.column_names == right.column_names
    if same_types:
        assert left.schema.types == right.schema.types, (left.schema, right.schema)
    assert left.num_rows == right.num_rows
    order = [(k, "ascending") for k in (keys or sortable(left))]
    left, right = left.sort_by(order), right.sort_by(order)
    for name in left.column_names:
        _assert_same_column(name, left.column(name).combine_chunks(),
                            right.column(name).combine_chunks())


def _assert_same_column(name: str, a: pa.Array, b: pa.Array) -> None:
    if pa.types.is_floating(a.type) and pa.types.is_floating(b.type):
        assert a.is_null().equals(b.is_null()), f"{name}: NULLs differ"
        x = pc.fill_null(a, 0).to_numpy(zero_copy_only=False)
        y = pc.fill_null(b, 0).to_numpy(zero_copy_only=False)
        both_nan = np.isnan(x) & np.isnan(y)
        close = np.abs(x - y) <= TOLERANCE * np.maximum(1.0, np.abs(x))
        bad = np.flatnonzero(~(close | both_nan))
        assert not len(bad), f"{name}: row {bad[0]} differs: {x[bad[0]]!r} != {y[bad[0]]!r}"
        return
    if not a.equals(b):
        if a.type != b.type:
            b = b.cast(a.type)
        diff = None
        if not pa.types.is_nested(a.type):
            same = pc.or_(pc.and_(a.is_null(), b.is_null()),
                          pc.fill_null(pc.equal(a, b), False))
            diff = pc.invert(same)
        where = int(np.flatnonzero(diff.to_numpy(zero_copy_only=False))[0]) \
            if diff is not None and pc.any(diff).as_py() else None
        assert a.equals(b), f"{name}: values differ" + (
            f" first at row {where}: {a[where]!r} != {b[where]!r}" if where is not None else "")
