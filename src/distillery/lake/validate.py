"""Vectorised validation: cast incoming rows to a dataset's schema and find the bad ones.

Everything here works on whole Arrow columns (casts, regex matches, null masks); no Python loop
runs per record. The result is the conformed table plus `Problems`: a boolean mask of bad rows
and, for each bad row, the first error found (code, field, message). Batch ingestion drops the
bad rows, counts them against the error threshold and stores the diagnostics.

Error codes follow the reference's categories: UNREADABLE_FILE, SCHEMA_MISMATCH,
UNPARSABLE_ROW, TYPE_MISMATCH, REQUIRED_FIELD_MISSING, ENUM_MISMATCH, INVALID_IDENTITY,
MISSING_PRIMARY_IDENTITY.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.errors import SchemaError
from distillery.lake.schema import Field, Schema

JUNK_IDENTITIES = ("", "null", "anonymous", "invalid", "undefined", "none", "nan", "0")
_NAMESPACE_PATTERNS = {"ECID": r"^\d{38}$", "Email": r"^[^@\s]+@[^@\s]+$"}
_INT = r"^\s*[-+]?\d+\s*$"
_FLOAT = r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf|infinity|nan)\s*$"
_BOOL = ("true", "false", "1", "0", "t", "f", "yes", "no", "y", "n")
_DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
_TIMESTAMP = (r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*"
              r"(Z|[+-]\d{2}:?\d{2})?\s*$")


@dataclass
class Problems:
    """Bad rows of one chunk: a mask, and per bad row its code, field and message."""

    size: int
    bad: np.ndarray = field(init=False)
    codes: dict[int, tuple[str, str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bad = np.zeros(self.size, dtype=bool)

    def add(self, mask: np.ndarray, code: str, path: str, messages: list[str] | str) -> None:
        """Mark rows in `mask` bad; keep the first error seen for each row."""
        new = mask & ~self.bad
        rows = np.flatnonzero(new)
        if not len(rows):
            return
        self.bad |= new
        if isinstance(messages, str):
            for r in rows:
                self.codes[int(r)] = (code, path, messages)
        else:
            # `messages` is aligned with the rows of `mask`, not only the new ones.
            lookup = dict(zip(np.flatnonzero(mask).tolist(), messages, strict=True))
            for r in rows:
                self.codes[int(r)] = (code, path, lookup[int(r)])


def nest_dotted(table: pa.Table) -> pa.Table:
    """Turn columns named with dotted paths (`_tenant.userid`) into nested structs."""
    if not any("." in n for n in table.column_names):
        return table
    tree: dict[str, object] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SchemaError(f"column {name!r} conflicts with column {part!r}")
            node = child
        node[parts[-1]] = col

    def build(node: dict[str, object]) -> pa.ChunkedArray | pa.Array:
        names = list(node)
        children = [build(v) if isinstance(v, dict) else v for v in node.values()]
        children = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in children]
        return pa.StructArray.from_arrays(children, names=names)

    return pa.table({k: (build(v) if isinstance(v, dict) else v) for k, v in tree.items()})


def conform(table: pa.Table, schema: Schema, problems: Problems) -> pa.Table:
    """Cast `table` to the schema's Arrow schema; rows whose values do not fit go to `problems`.

    Raises SchemaError for what no single row causes: a column the schema does not have, or a
    nested value whose shape cannot be cast.
    """
    table = nest_dotted(table)
    target = schema.to_arrow()
    if [f.type for f in table.schema] == [f.type for f in target] and \
            table.column_names == target.names:
        # Already the schema's shape (generated or exported by Distillery): nothing to cast.
        return pa.Table.from_arrays(table.columns, schema=target.with_metadata(None)) \
            if table.schema != target else table
    unknown = [n for n in table.column_names if n not in target.names]
    if unknown:
        raise SchemaError(f"column(s) {unknown} are not fields of schema {schema.title!r}; "
                          f"map them to fields or drop them")
    fields = {f.name: f for f in schema.fields}
    arrays = []
    for f in target:
        if f.name in table.column_names:
            col = table.column(f.name).combine_chunks()
            arrays.append(_conform(col, fields[f.name], f.name, problems))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=target.with_metadata(None))


def _conform(arr: pa.Array, fdef: Field, path: str, problems: Problems) -> pa.Array:
    target = fdef.arrow_type()
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    if fdef.type == "struct" and pa.types.is_struct(arr.type):
        return _conform_struct(arr, fdef, path, problems)
    if fdef.type == "array" and fdef.items and pa.types.is_list(arr.type):
        return _conform_list(arr, fdef.items, path, problems)
    if fdef.type == "map" and fdef.values and pa.types.is_struct(arr.type):
        return _struct_to_map(arr, fdef.values, path, problems)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        if pa.types.is_string(target):
            return arr.cast(target)
        return _parse_strings(arr, target, path, problems)
    if _is_scalar(arr.type) and _is_scalar(target):
        return _cast_scalars(arr, target, path, problems)
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"field {path!r} has type {arr.type}, which cannot be cast to "
                          f"{target}: {exc}") from exc


def _conform_struct(arr: pa.StructArray, fdef: Field, path: str,
                    problems: Problems) -> pa.Array:
    have = {arr.type.field(i).name for i in range(arr.type.num_fields)}
    want = {c.name: c for c in fdef.fields}
    unknown = sorted(have - set(want))
    if unknown:
        raise SchemaError(f"field(s) {[f'{path}.{u}' for u in unknown]} are not in the schema")
    children = []
    for name, child in want.items():
        if name in have:
            values = arr.field(name)
            children.append(_conform(values, child, f"{path}.{name}", problems))
        else:
            children.append(pa.nulls(len(arr), child.arrow_type()))
    return pa.StructArray.from_arrays(children, fields=[c.to_arrow().with_nullable(True)
                                                        for c in want.values()],
                                      mask=arr.is_null())


def _conform_list(arr: pa.ListArray, items: Field, path: str, problems: Problems) -> pa.Array:
    offsets = arr.offsets
    if len(arr) and offsets[0].as_py():
        offsets = pc.subtract(offsets, offsets[0])
    # Row-level problems inside a list cannot be told apart per row here: collect them
    # against the flattened values, then fail the whole list column if any arose.
    inner = Problems(len(arr.flatten()))
    values = _conform(arr.flatten(), items, f"{path}[]", inner)
    if inner.bad.any():
        raise SchemaError(f"field {path!r} holds values that do not fit {items.arrow_type()}")
    return pa.ListArray.from_arrays(offsets, values, type=pa.list_(items.arrow_type()),
                                    mask=arr.is_null())


def _struct_to_map(arr: pa.StructArray, values: Field, path: str,
                   problems: Problems) -> pa.Array:
    """JSON objects read as structs (`{"ECID": [...]}`) become map entries."""
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    n = len(arr)
    children = [_conform(arr.field(name), values, f"{path}[{name!r}]", problems)
                for name in names]
    if not children:
        return pa.nulls(n, pa.map_(pa.string(), values.arrow_type()))
    present = np.stack([c.is_valid().to_numpy(zero_copy_only=False) for c in children], axis=1)
    present &= arr.is_valid().to_numpy(zero_copy_only=False)[:, None]
    rows, keys = np.nonzero(present)
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    items = pa.concat_arrays(children).take(pa.array(keys * n + rows))
    return pa.MapArray.from_arrays(pa.array(offsets), pa.array(np.array(names)[keys]
                                                               if len(keys) else [],
                                                               type=pa.string()),
                                   items, type=pa.map_(pa.string(), values.arrow_type()),
                                   mask=arr.is_null())


def _is_scalar(t: pa.DataType) -> bool:
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t) or pa.types.is_temporal(t))


def _cast_scalars(arr: pa.Array, target: pa.DataType, path: str,
                  problems: Problems) -> pa.Array:
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        loose = arr.cast(target, safe=False)
        back = loose.cast(arr.type, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"field {path!r} has type {arr.type}, which cannot be cast to "
                          f"{target}") from exc
    bad = pc.fill_null(pc.not_equal(back, arr), False).to_numpy(zero_copy_only=False)
    _report(problems, bad, "TYPE_MISMATCH", path, arr, f"does not fit {target}")
    return pc.if_else(pa.array(bad), pa.nulls(len(arr), target), loose)


def _parse_strings(arr: pa.Array, target: pa.DataType, path: str,
                   problems: Problems) -> pa.Array:
    text = arr.cast(pa.string())
    if pa.types.is_boolean(target):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        ok = pc.is_in(lowered, pa.array(_BOOL))
    else:
        pattern = (_INT if pa.types.is_integer(target)
                   else _FLOAT if pa.types.is_floating(target) or pa.types.is_decimal(target)
                   else _DATE if pa.types.is_date(target)
                   else _TIMESTAMP if pa.types.is_timestamp(target) else None)
        if pattern is None:
            raise SchemaError(f"field {path!r}: text cannot be cast to {target}")
        ok = pc.match_substring_regex(text, pattern, ignore_case=True)
    bad = pc.fill_null(pc.invert(ok), False).to_numpy(zero_copy_only=False)
    _report(problems, bad, "TYPE_MISMATCH", path, arr, f"is not a valid {target}")
    cleaned = pc.if_else(pa.array(bad), pa.nulls(len(arr), pa.string()), text)
    if pa.types.is_boolean(target):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(cleaned))
        return _as_bool(lowered)
    cleaned = pc.utf8_trim_whitespace(cleaned)
    if pa.types.is_timestamp(target):
        return _parse_timestamps(cleaned, target)
    return cleaned.cast(target)


def _parse_timestamps(text: pa.Array, target: pa.TimestampType) -> pa.Array:
    """ISO-8601 text to timestamps; values without an offset are taken as UTC."""
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d{2}-\d{2})$", r"\1T00:00:00")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d{2}-\d{2}) ", r"\1T")
    zoned = pc.match_substring_regex(text, r"T.*(Z|[+-]\d{2}(:?\d{2})?)$")
    text = pc.if_else(zoned, text, pc.binary_join_element_wise(text, "Z", ""))
    if target.tz is None:
        return text.cast(pa.timestamp(target.unit, tz="UTC")).cast(target)
    return text.cast(target)


def _as_bool(lowered: pa.Array) -> pa.Array:
    truthy = pc.is_in(lowered, pa.array(["true", "1", "t", "yes", "y"]))
    return pc.if_else(pc.is_null(lowered), pa.nulls(len(lowered), pa.bool_()), truthy)


def _report(problems: Problems, bad: np.ndarray, code: str, path: str, values: pa.Array,
            what: str) -> None:
    if not bad.any():
        return
    shown = values.filter(pa.array(bad)).to_pylist()
    problems.add(bad, code, path, [f"field {path}: {v!r} {what}" for v in shown])


def check(table: pa.Table, schema: Schema, problems: Problems) -> None:
    """Find rows that break the schema's rules: required fields, enums, identities."""
    entries = (_identity_entries(table.column("identityMap").combine_chunks())
               if "identityMap" in table.column_names else None)
    for path, fdef in schema.leaves():
        if not fdef.required and fdef.enum is None:
            continue
        values = column_at(table, path)
        if fdef.required:
            missing = _parent_present(table, path) & values.is_null().to_numpy(
                zero_copy_only=False)
            problems.add(missing, "REQUIRED_FIELD_MISSING", path,
                         f"required field {path} is missing")
        if fdef.enum is not None and fdef.type == "string":
            outside = pc.and_(values.is_valid(), pc.invert(pc.is_in(values, pa.array(fdef.enum))))
            _report(problems, outside.to_numpy(zero_copy_only=False), "ENUM_MISMATCH", path,
                    values, f"is not one of {list(fdef.enum)}")
    for ident in schema.identities:
        values = column_at(table, ident.path)
        _check_identity(problems, values, ident.namespace, ident.path)
        if ident.primary and schema.cls != "adhoc":
            missing = values.is_null().to_numpy(zero_copy_only=False)
            if entries is not None:
                missing &= ~_has_primary(entries, table.num_rows)
            problems.add(missing, "MISSING_PRIMARY_IDENTITY", ident.path,
                         f"primary identity {ident.path} ({ident.namespace}) is missing")
    if entries is not None:
        _check_identity_map(entries, table.num_rows, problems)


def column_at(table: pa.Table, path: str) -> pa.Array:
    """The values at a dotted path, null wherever the value or any parent is null."""
    parts = path.split(".")
    arr = table.column(parts[0]).combine_chunks()
    for part in parts[1:]:
        arr = pc.struct_field(arr, part)
    return arr


def _parent_present(table: pa.Table, path: str) -> np.ndarray:
    parts = path.split(".")
    if len(parts) == 1:
        return np.ones(table.num_rows, dtype=bool)
    parent = column_at(table, ".".join(parts[:-1]))
    return parent.is_valid().to_numpy(zero_copy_only=False)


def _bad_identities(text: pa.Array, namespaces: pa.Array | str) -> pa.Array:
    """True where an identity value is junk or does not fit its namespace's pattern."""
    bad = _junk(text)
    for ns, pattern in _NAMESPACE_PATTERNS.items():
        if isinstance(namespaces, str) and namespaces != ns:
            continue
        fits = _ecid_like(text) if ns == "ECID" else pc.match_substring_regex(text, pattern)
        misfit = pc.invert(pc.fill_null(fits, True))
        if not isinstance(namespaces, str):
            misfit = pc.and_(pc.equal(namespaces, ns), misfit)
        bad = pc.or_(bad, misfit)
    return pc.fill_null(bad, False)


def _junk(text: pa.Array) -> pa.Array:
    # Junk values are short; looking closer only at short values keeps this cheap on real ids.
    limit = max(len(j) for j in JUNK_IDENTITIES) + 2
    short = pc.fill_null(pc.less_equal(pc.binary_length(text), limit), False)
    rows = np.flatnonzero(short.to_numpy(zero_copy_only=False))
    out = np.zeros(len(text), dtype=bool)
    if len(rows):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(text.take(pa.array(rows))))
        out[rows] = pc.is_in(lowered, pa.array(JUNK_IDENTITIES)).to_numpy(zero_copy_only=False)
    return pa.array(out)


def _ecid_like(text: pa.Array) -> pa.Array:
    """ECIDs are exactly 38 ASCII digits (cheaper than a regex on millions of ids)."""
    return pc.and_(pc.equal(pc.binary_length(text), 38), pc.ascii_is_decimal(text))


def _check_identity(problems: Problems, values: pa.Array, namespace: str, path: str) -> None:
    text = values.cast(pa.string())
    bad = _bad_identities(text, namespace)
    _report(problems, bad.to_numpy(zero_copy_only=False), "INVALID_IDENTITY", path, text,
            f"is not a valid {namespace} identity")


def _identity_entries(imap: pa.MapArray) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    """Flatten a map of namespace -> list of identities to (namespace, id, primary, row)."""
    if len(imap) == 0 or imap.null_count == len(imap):
        empty = pa.array([], pa.string())
        return empty, empty, pa.array([], pa.bool_()), np.zeros(0, dtype=np.int64)
    keys = imap.keys
    lists = imap.items
    per_row = np.diff(imap.offsets.to_numpy())
    key_rows = np.repeat(np.arange(len(imap)), per_row)
    flat = pc.list_flatten(lists)
    per_key = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    rows = np.repeat(key_rows, per_key)
    namespaces = keys.take(pa.array(np.repeat(np.arange(len(keys)), per_key)))
    return namespaces, pc.struct_field(flat, "id"), pc.struct_field(flat, "primary"), rows


def _has_primary(entries: tuple[pa.Array, pa.Array, pa.Array, np.ndarray],
                 size: int) -> np.ndarray:
    _, ids, primary, rows = entries
    out = np.zeros(size, dtype=bool)
    good = pc.and_(pc.is_valid(ids), pc.fill_null(primary, False)).to_numpy(zero_copy_only=False)
    out[rows[good]] = True
    return out


def _check_identity_map(entries: tuple[pa.Array, pa.Array, pa.Array, np.ndarray], size: int,
                        problems: Problems) -> None:
    namespaces, ids, _, rows = entries
    if len(ids) == 0:
        return
    text = ids.cast(pa.string())
    # A missing id inside an identity map is as bad as a junk one.
    bad = pc.or_(pc.is_null(text), _bad_identities(text, namespaces))
    bad_np = bad.to_numpy(zero_copy_only=False)
    if not bad_np.any():
        return
    row_mask = np.zeros(size, dtype=bool)
    row_mask[rows[bad_np]] = True
    first = {}
    for r, ns, v in zip(rows[bad_np].tolist(), namespaces.filter(bad).to_pylist(),
                        text.filter(bad).to_pylist(), strict=True):
        first.setdefault(r, f"identityMap[{ns!r}]: {v!r} is not a valid {ns} identity")
    problems.add(row_mask, "INVALID_IDENTITY", "identityMap",
                 [first[r] for r in np.flatnonzero(row_mask).tolist()])
