"""Derived datasets: CREATE TABLE [AS], INSERT INTO, DROP TABLE.

`CREATE TABLE t [WITH (schema='title', rowvalidation='false', label='PROFILE')] AS SELECT ...`
creates a dataset and fills it with the query's rows as ONE batch (one snapshot), streamed
from the engine; the result holds the new dataset's id. `INSERT INTO t [(cols)] SELECT ...`
adds one batch (columns by position as in Spark, by the column list, or `BY NAME`);
`INSERT OVERWRITE [TABLE] t SELECT ...` replaces every row in one snapshot.

A statement that fails leaves nothing behind: batches commit only when every row is in, and a
dataset that CREATE TABLE made is dropped again when its batch fails. Rows that do not fit the
dataset's schema fail the statement (`rowvalidation='false'` drops and reports them instead).

Data-usage labels follow the rows (`sql.lineage.carry_labels`): the written dataset gets the
labels of the datasets and fields its query read, before its rows land, so labelled data is
never in a dataset without its labels; a failed INSERT takes back the labels it added.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.errors import IngestionError, QueryError, UnknownTableError
from distillery.lake import labels as usage_labels
from distillery.lake import xdm
from distillery.lake.catalog import BatchRecord, DatasetRecord
from distillery.lake.schema import Schema, infer_schema
from distillery.sql import samples
from distillery.sql.errors import (
    ColumnMismatchError,
    DuplicateTableError,
    WriteFailedError,
    WrongObjectTypeError,
)
from distillery.sql.lineage import carry_labels
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_BAD_COLUMN = re.compile(r"[ ,;{}()\n\t=]")  # characters Delta refuses in column names
OPTIONS = ("schema", "rowvalidation", "label", "description")


def create(service: QueryService, session: Session, stmt: exp.Create,
           params: dict[str, Any] | None) -> Result:
    """CREATE TABLE (AS SELECT, or with column definitions) and CREATE VIEW."""
    kind = str(stmt.args.get("kind") or "").upper()
    if kind == "VIEW":
        return service.views.create(session, stmt)
    if kind != "TABLE":
        raise QueryError(f"CREATE {kind} is not supported", sqlstate="0A000")
    target = stmt.this
    name = _table_name(target.this if isinstance(target, exp.Schema) else target)
    existing = service.lake.catalog.find_dataset(name)
    if name in {v.lower() for v in service.views.names()}:
        raise DuplicateTableError(f"{name} is a view; a table needs another name")
    if existing is not None:
        if stmt.args.get("exists"):
            return _created(existing, None, "CREATE TABLE (exists already)")
        raise DuplicateTableError(f"table {name} exists already (dataset {existing.id}); use "
                                  "CREATE TABLE IF NOT EXISTS, or INSERT INTO to add rows")
    options = _options(stmt)
    if stmt.expression is None:
        return _create_empty(service, name, target, options)
    query = stmt.expression.this if isinstance(stmt.expression, exp.Subquery) \
        else stmt.expression
    reader = service.open(session, query, params)
    _check_columns(reader.schema)
    return _ctas(service, name, query, reader, options)


def _ctas(service: QueryService, name: str, query: exp.Expression,
          reader: pa.RecordBatchReader, options: dict[str, str]) -> Result:
    schema = _schema_option(service, options) or infer_schema(reader.schema, name)
    labels = _labels(options)
    profile = "PROFILE" in labels and schema.primary_identity is not None
    ds = service.lake.create_dataset(name, schema, table_name=name, labels=labels,
                                     profile_enabled=profile,
                                     description=options.get("description", ""))
    try:
        carry_labels(service, query, ds, reader.schema.names)
        rows = _unless_empty(reader)
        record = None if rows is None else \
            service.lake.write(ds.id, rows, error_threshold=_threshold(options))
    except BaseException as exc:
        service.lake.drop_dataset(ds.id)
        if isinstance(exc, IngestionError):
            raise WriteFailedError(f"CREATE TABLE {name} failed, nothing was created: "
                                   f"{exc}") from None
        raise
    return _created(service.lake.dataset(ds.id), record, "CREATE TABLE AS")


def _create_empty(service: QueryService, name: str, target: exp.Expression,
                  options: dict[str, str]) -> Result:
    """CREATE TABLE t (col type, ...): an empty dataset with those columns."""
    if not isinstance(target, exp.Schema) or not target.expressions:
        raise QueryError(f"CREATE TABLE {name} needs columns or AS SELECT", sqlstate="42601")
    columns = [exp.alias_(exp.Cast(this=exp.null(), to=c.args["kind"]), c.name, quoted=True)
               for c in target.expressions if isinstance(c, exp.ColumnDef)]
    probe = exp.select(*columns).where(exp.false())
    arrow = service.engine.reader(probe.sql(service.engine.DIALECT)).schema
    schema = _schema_option(service, options) or infer_schema(arrow, name)
    ds = service.lake.create_dataset(name, schema, table_name=name, labels=_labels(options),
                                     description=options.get("description", ""))
    return _created(ds, None, "CREATE TABLE")


def _created(ds: DatasetRecord, record: BatchRecord | None, status: str) -> Result:
    rows = record.output_records if record else 0
    table = pa.table({"dataSetId": [ds.id], "name": [ds.table_name],
                      "snapshot": pa.array([record.snapshot if record else None], pa.int64()),
                      "rows": pa.array([rows], pa.int64())})
    return Result.of(table, status=status, rowcount=rows)


def insert(service: QueryService, session: Session, stmt: exp.Insert,
           params: dict[str, Any] | None) -> Result:
    """INSERT INTO / INSERT OVERWRITE [TABLE] t [(cols) | BY NAME] SELECT ... | VALUES ..."""
    target = stmt.this
    table = target.this if isinstance(target, exp.Schema) else target
    ds = _dataset(service, _table_name(table))
    columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
    reader = service.open(session, stmt.expression, params)
    names = _target_names(ds, reader.schema, columns, bool(stmt.args.get("by_name")))
    mode = "overwrite" if stmt.args.get("overwrite") else "append"
    renamed = _renamed(reader, names)
    rows: Any = _unless_empty(renamed)
    tag = "INSERT OVERWRITE" if mode == "overwrite" else "INSERT 0"
    if rows is None:
        if mode == "append":
            return Result.message(f"{tag} 0", rowcount=0)  # no rows: no empty snapshot
        rows = renamed.schema.empty_table()  # OVERWRITE with nothing empties the table
    added = carry_labels(service, stmt.expression, ds, names)
    try:
        record = service.lake.write(ds.id, rows, mode=mode, error_threshold=0)
    except BaseException as exc:
        _take_back(service, ds, added)
        if isinstance(exc, IngestionError):
            raise WriteFailedError(f"INSERT INTO {ds.table_name} failed, no row was written: "
                                   f"{exc}") from None
        raise
    return Result.message(f"{tag} {record.output_records}", rowcount=record.output_records)


def _take_back(service: QueryService, ds: DatasetRecord,
               added: dict[str, frozenset[str]]) -> None:
    """Remove the labels a failed write added (those the dataset had before stay)."""
    for path, marks in added.items():
        field = None if path == usage_labels.ALL_FIELDS else path
        usage_labels.remove_labels(service.lake.catalog, ds, marks, field=field)


def _target_names(ds: DatasetRecord, source: pa.Schema, columns: list[str] | None,
                  by_name: bool) -> list[str]:
    """The dataset column each query column goes to."""
    fields = ds.schema.to_arrow().names
    lookup = {f.lower(): f for f in fields}
    if columns is None and not by_name:
        if len(source.names) != len(fields):
            raise ColumnMismatchError(
                f"INSERT INTO {ds.table_name}: the query gives {len(source.names)} column(s), "
                f"the table has {len(fields)} ({', '.join(fields)}); list the target columns "
                "or use INSERT INTO t BY NAME")
        return list(fields)
    wanted = columns if columns is not None else source.names
    unknown = [c for c in wanted if c.lower() not in lookup]
    if unknown:
        raise QueryError(f"INSERT INTO {ds.table_name}: column(s) {', '.join(unknown)} are not "
                         f"columns of the table ({', '.join(fields)})", sqlstate="42703")
    if len(wanted) != len(source.names):
        raise ColumnMismatchError(f"INSERT INTO {ds.table_name}: {len(wanted)} target "
                                  f"column(s) but the query gives {len(source.names)}")
    return [lookup[c.lower()] for c in wanted]


def _unless_empty(reader: pa.RecordBatchReader) -> pa.RecordBatchReader | None:
    """`reader` again, or None when it has no rows (read up to its first row to know)."""
    batches = iter(reader)
    first = next((b for b in batches if b.num_rows), None)
    if first is None:
        return None

    def rest(head: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        yield head
        yield from batches

    return pa.RecordBatchReader.from_batches(reader.schema, rest(first))


def _renamed(reader: pa.RecordBatchReader, names: list[str]) -> pa.RecordBatchReader:
    schema = pa.schema([f.with_name(n) for f, n in zip(reader.schema, names, strict=True)])

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def drop(service: QueryService, session: Session, stmt: exp.Drop,
         params: dict[str, Any] | None) -> Result:
    """DROP TABLE [IF EXISTS] t (its samples go with it) and DROP VIEW [IF EXISTS] v."""
    kind = str(stmt.args.get("kind") or "").upper()
    targets = stmt.args.get("tables") or [stmt.this]
    if kind == "VIEW":
        for t in targets:
            service.views.drop(t.name, bool(stmt.args.get("exists")))
        return Result.message("DROP VIEW")
    if kind != "TABLE":
        raise QueryError(f"DROP {kind} is not supported", sqlstate="0A000")
    for t in targets:
        ds = service.lake.catalog.find_dataset(t.name)
        if ds is None:
            if t.name.lower() in {v.lower() for v in service.views.names()}:
                raise WrongObjectTypeError(f"{t.name} is a view, not a table; use DROP VIEW")
            if stmt.args.get("exists"):
                continue
            raise UnknownTableError(f"table {t.name} does not exist in sandbox "
                                    f"{service.sandbox!r}; SHOW TABLES lists what does")
        for sample in samples.samples_of(service, ds):
            service.lake.drop_dataset(sample)
        service.lake.drop_dataset(ds.id)
    service.sync()
    return Result.message("DROP TABLE")


def _dataset(service: QueryService, name: str) -> DatasetRecord:
    ds = service.lake.catalog.find_dataset(name)
    if ds is not None:
        return ds
    if name in {v.lower() for v in service.views.names()}:
        raise WrongObjectTypeError(f"{name} is a view; rows can only be written to a table")
    raise UnknownTableError(f"table {name} does not exist in sandbox {service.sandbox!r}; "
                            "CREATE TABLE ... AS SELECT makes one")


def _table_name(table: exp.Expression) -> str:
    name = table.name.lower()
    if not _TABLE_NAME.match(name):
        raise QueryError(f"table name {table.name!r} is invalid: use letters, digits and '_', "
                         "starting with a letter or '_'", sqlstate="42602")
    return name


def _check_columns(schema: pa.Schema) -> None:
    seen: set[str] = set()
    for name in schema.names:
        if _BAD_COLUMN.search(name) or not name:
            raise QueryError(f"column {name!r} cannot be stored under that name: give it an "
                             "alias (expression AS name)", sqlstate="42602")
        if name.lower() in seen:
            raise QueryError(f"column {name!r} appears twice; give one of them an alias",
                             sqlstate="42701")
        seen.add(name.lower())


def _options(stmt: exp.Create) -> dict[str, str]:
    props = stmt.args.get("properties")
    options: dict[str, str] = {}
    for prop in props.expressions if props else []:
        if not isinstance(prop, exp.Property) or not isinstance(prop.this, exp.Var | exp.Literal):
            raise QueryError(f"CREATE TABLE clause {prop.sql('spark')!r} is not supported; "
                             f"use WITH ({', '.join(OPTIONS)})", sqlstate="0A000")
        key = prop.name.lower()
        if key not in OPTIONS:
            raise QueryError(f"unknown CREATE TABLE option {prop.name!r}; the options are "
                             f"{', '.join(OPTIONS)}", sqlstate="22023")
        value = prop.args.get("value")
        options[key] = value.name if isinstance(value, exp.Literal | exp.Var | exp.Column) \
            else value.sql("spark") if value is not None else ""
    return options


def _labels(options: dict[str, str]) -> list[str]:
    return [x.strip().upper() for x in options.get("label", "").split(",") if x.strip()]


def _threshold(options: dict[str, str]) -> float:
    value = options.get("rowvalidation", "true").strip().lower()
    if value not in ("true", "false"):
        raise QueryError(f"rowvalidation must be 'true' or 'false', got {value!r}",
                         sqlstate="22023")
    return 1.0 if value == "false" else 0.0


def _schema_option(service: QueryService, options: dict[str, str]) -> Schema | None:
    """The schema titled like the `schema` option: a dataset's, or a standard XDM class."""
    title = options.get("schema")
    if not title:
        return None
    candidates = [d.schema for d in service.lake.datasets()]
    candidates += [xdm.experience_event_schema(), xdm.profile_schema()]
    for schema in candidates:
        if schema.title.lower() == title.lower():
            return schema
    titles = sorted({s.title for s in candidates})
    raise QueryError(f"no schema titled {title!r} in this sandbox; known: {', '.join(titles)}",
                     sqlstate="42704")
