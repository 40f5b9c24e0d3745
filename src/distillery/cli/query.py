"""The `query` command: run SQL through the Query Service and print or save the rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer

from distillery.cli.context import fail, out, state, table

MAX_PRINTED = 1000


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("query")(query)


def query(
    ctx: typer.Context,
    sql: str = typer.Argument(..., help="Spark SQL (Data Distiller dialect); '-' reads stdin."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Write rows to .csv, .parquet or .json(l)."),
) -> None:
    """Run SQL and print the rows (or write them with --output)."""
    st = state(ctx)
    text = typer.get_text_stream("stdin").read() if sql == "-" else sql
    result = st.platform().query(text)
    if not result.has_rows:
        st.emit({"status": result.status}, lambda: out.print(result.status))
        return
    if output is not None:
        rows = _write(result.reader(), output)
        st.emit({"status": result.status, "rows": rows, "output": str(output)},
                lambda: out.print(f"{rows:,} rows written to {output}"))
        return
    data = result.arrow()
    if st.json:
        st.emit(data.to_pylist())
        return
    shown = data.slice(0, MAX_PRINTED)
    out.print(table(None, shown.column_names,
                    [list(r.values()) for r in shown.to_pylist()]))
    more = f" (first {MAX_PRINTED} shown; use --output for all)" if data.num_rows > MAX_PRINTED \
        else ""
    out.print(f"{data.num_rows:,} row(s){more}")


def _write(reader: pa.RecordBatchReader, path: Path) -> int:
    suffix = path.suffix.lower()
    rows = 0
    if suffix == ".parquet":
        with pq.ParquetWriter(path, reader.schema) as w:
            for b in reader:
                w.write_batch(b)
                rows += b.num_rows
    elif suffix == ".csv":
        with pacsv.CSVWriter(path, reader.schema) as w:
            for b in reader:
                w.write_batch(b)
                rows += b.num_rows
    elif suffix in (".json", ".jsonl", ".ndjson"):
        import json

        with path.open("w") as fh:
            for b in reader:
                for r in b.to_pylist():
                    fh.write(json.dumps(r, default=str) + "\n")
                rows += b.num_rows
    else:
        fail(f"--output must end in .csv, .parquet or .json, got {path.name!r}")
    return rows
