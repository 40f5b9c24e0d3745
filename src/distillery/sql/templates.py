"""Query templates and query runs.

A template is SQL saved by name, with `$name` parameters. Running it binds the values given
as parameters: a value is never pasted into the SQL text, so `x'; DROP TABLE t; --` stays a
string (in a SNAPSHOT clause a value is read as a snapshot id). Every parameter needs a value
and every value a parameter, checked before anything runs.

Each run is recorded in the catalog with its state (SUBMITTED, IN_PROGRESS, SUCCESS, FAILED),
times, elapsed milliseconds, row count, SQLSTATE error code and message. A run's last result,
when it has rows, is kept as Parquet under `{sandbox}/query_results/{run id}.parquet`.
`async_=True` runs it on a background thread of this process; `wait` polls until it ends. A
run whose process died is marked FAILED (57P01) the next time runs are read.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from distillery.errors import AlreadyExistsError, NotFoundError, QueryError
from distillery.lake.catalog import now_iso
from distillery.sql.errors import ParameterError
from distillery.sql.preprocess import template_parameters
from distillery.sql.result import Result
from distillery.sql.split import split_statements

if TYPE_CHECKING:
    from distillery.sql.service import QueryService

STATES = ("SUBMITTED", "IN_PROGRESS", "SUCCESS", "FAILED")
DONE = ("SUCCESS", "FAILED")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,127}$")


@dataclass
class Template:
    """A saved query template."""

    name: str
    sql: str
    parameters: list[str]
    created_at: str
    updated_at: str


@dataclass
class QueryRun:
    """One run of a query (from a template, or ad hoc) and how it went."""

    id: str
    template: str | None
    sql: str
    params: dict[str, Any]
    state: str
    submitted_at: str
    started_at: str | None = None
    finished_at: str | None = None
    elapsed_ms: int | None = None
    rows: int | None = None
    result_path: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class Templates:
    """Templates and runs of one sandbox's Query Service."""

    def __init__(self, service: QueryService) -> None:
        self.service = service
        self.results_dir = service.lake.root / "query_results"

    # Templates --------------------------------------------------------------------------------

    def save(self, name: str, sql: str, *, replace: bool = False) -> Template:
        """Save `sql` as template `name`; an existing name needs `replace=True`."""
        if not _NAME.match(name):
            raise QueryError(f"template name {name!r} is invalid: use 1-128 letters, digits, "
                             "spaces or '_.:-'", sqlstate="42602")
        if not split_statements(sql):
            raise QueryError(f"template {name!r} has no SQL statement", sqlstate="42601")
        params = template_parameters(sql)
        now = now_iso()
        with self.service.lake.catalog.connect() as con:
            exists = con.execute("SELECT 1 FROM query_templates WHERE name = ?",
                                 (name,)).fetchone()
            if exists and not replace:
                raise AlreadyExistsError(f"template {name!r} exists already; save it with "
                                         "replace to change it")
            con.execute("INSERT INTO query_templates (name, sql, parameters, created_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                        "sql = excluded.sql, parameters = excluded.parameters, updated_at = "
                        "excluded.updated_at", (name, sql, json.dumps(params), now, now))
        return self.get(name)

    def get(self, name: str) -> Template:
        """The template called `name`."""
        with self.service.lake.catalog.connect() as con:
            row = con.execute("SELECT * FROM query_templates WHERE name = ?",
                              (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"query template {name!r} does not exist in this sandbox")
        return Template(row["name"], row["sql"], json.loads(row["parameters"]),
                        row["created_at"], row["updated_at"])

    def all(self) -> list[Template]:
        """Every template, by name."""
        with self.service.lake.catalog.connect() as con:
            names = [r["name"] for r in
                     con.execute("SELECT name FROM query_templates ORDER BY name")]
        return [self.get(n) for n in names]

    def delete(self, name: str) -> None:
        """Forget a template (its runs stay listed)."""
        self.get(name)
        with self.service.lake.catalog.connect() as con:
            con.execute("DELETE FROM query_templates WHERE name = ?", (name,))

    # Runs -------------------------------------------------------------------------------------

    def run(self, name: str, values: dict[str, Any] | None = None, *,
            async_: bool = False) -> str:
        """Run template `name` with `values` for its parameters; return the run id."""
        run_id = self.submit_template(name, values)
        if async_:
            self.start(run_id)
        else:
            self.execute(run_id)
        return run_id

    def submit_template(self, name: str, values: dict[str, Any] | None = None) -> str:
        """Check `values` against template `name`'s parameters and record a SUBMITTED run."""
        template = self.get(name)
        values = dict(values or {})
        missing = [p for p in template.parameters if p not in values]
        unknown = [k for k in values if k not in template.parameters]
        if missing:
            raise ParameterError(f"template {name!r} needs a value for parameter(s) "
                                 f"{', '.join('$' + m for m in missing)}")
        if unknown:
            raise ParameterError(f"template {name!r} has no parameter(s) "
                                 f"{', '.join('$' + u for u in unknown)} (it takes "
                                 f"{', '.join('$' + p for p in template.parameters) or 'none'})")
        return self.submit(template.sql, values, template=name)

    def submit(self, sql: str, params: dict[str, Any] | None = None, *,
               template: str | None = None) -> str:
        """Record a run in state SUBMITTED; `execute` or `start` runs it."""
        run_id = str(uuid.uuid4())
        with self.service.lake.catalog.connect() as con:
            con.execute("INSERT INTO query_runs (id, template, sql, params_json, state, "
                        "submitted_at) VALUES (?, ?, ?, ?, 'SUBMITTED', ?)",
                        (run_id, template, sql, json.dumps(params or {}, default=str),
                         now_iso()))
        return run_id

    def start(self, run_id: str) -> threading.Thread:
        """Run a submitted run on a background thread of this process."""
        thread = threading.Thread(target=self.execute, args=(run_id,), daemon=True,
                                  name=f"query-run-{run_id[:8]}")
        thread.start()
        return thread

    def execute(self, run_id: str) -> QueryRun:
        """Run a submitted run now, on this thread; record how it went."""
        run = self.get_run(run_id)
        if run.state != "SUBMITTED":
            raise QueryError(f"query run {run_id} is {run.state}; only a SUBMITTED run can "
                             "start", sqlstate="55000")
        self._update(run_id, state="IN_PROGRESS", started_at=now_iso(), pid=os.getpid())
        session = self.service.session()
        started = time.monotonic()
        try:
            results = self.service.execute(run.sql, run.params, session)
            outcome = self._success(run_id, results[-1] if results else None)
            if session.last_error is not None:
                outcome.update(error_code=session.last_error.sqlstate,
                               error_message="handled by EXCEPTION WHEN OTHER: "
                                             f"{session.last_error}")
        except Exception as exc:
            error = exc if isinstance(exc, QueryError) else self.service.translate(exc)
            outcome = {"state": "FAILED", "error_code": error.sqlstate,
                       "error_message": str(error).splitlines()[0][:2000]}
        elapsed = int((time.monotonic() - started) * 1000)
        self._update(run_id, finished_at=now_iso(), elapsed_ms=elapsed, **outcome)
        return self.get_run(run_id)

    def _success(self, run_id: str, last: Result | None) -> dict[str, Any]:
        outcome: dict[str, Any] = {"state": "SUCCESS", "rows": None}
        if last is None:
            return outcome
        if last.has_rows:
            path, rows = self._keep(run_id, last)
            outcome.update(result_path=str(path), rows=rows)
        if last.rowcount is not None:
            outcome["rows"] = last.rowcount
        return outcome

    def _keep(self, run_id: str, result: Result) -> tuple[Path, int]:
        """Write a result's rows to the run's Parquet file; return it and the row count."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{run_id}.parquet"
        reader = result.reader()
        rows = 0
        with pq.ParquetWriter(path, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        return path, rows

    def result(self, run_id: str) -> Result:
        """The rows a finished run kept (its last statement's result)."""
        run = self.get_run(run_id)
        if run.result_path is None:
            raise NotFoundError(f"query run {run_id} ({run.state}) kept no rows")
        return Result.of(pq.read_table(run.result_path))

    def get_run(self, run_id: str) -> QueryRun:
        """A run by id."""
        with self.service.lake.catalog.connect() as con:
            row = con.execute("SELECT * FROM query_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"query run {run_id!r} does not exist in this sandbox")
        return self._reap(_run(row))

    def runs(self, limit: int = 100) -> list[QueryRun]:
        """The latest runs, newest first."""
        with self.service.lake.catalog.connect() as con:
            rows = con.execute("SELECT * FROM query_runs ORDER BY submitted_at DESC LIMIT ?",
                               (limit,)).fetchall()
        return [self._reap(_run(r)) for r in rows]

    def wait(self, run_id: str, timeout: float | None = None, poll: float = 0.1) -> QueryRun:
        """Poll a run until it is SUCCESS or FAILED (or `timeout` seconds pass); return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        run = self.get_run(run_id)
        while run.state not in DONE and (deadline is None or time.monotonic() < deadline):
            time.sleep(poll)
            run = self.get_run(run_id)
        return run

    def _reap(self, run: QueryRun) -> QueryRun:
        """Mark FAILED a run whose process ended before it finished."""
        if run.state == "IN_PROGRESS" and run.pid and not _alive(run.pid):
            self._update(run.id, state="FAILED", error_code="57P01", finished_at=now_iso(),
                         error_message=f"the process running it (pid {run.pid}) ended "
                                       "before it finished")
            run.state, run.error_code = "FAILED", "57P01"
        return run

    def _update(self, run_id: str, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.service.lake.catalog.connect() as con:
            con.execute(f"UPDATE query_runs SET {sets} WHERE id = ?", (*values.values(), run_id))


def _run(row: Any) -> QueryRun:
    data = dict(row)
    data["params"] = json.loads(data.pop("params_json"))
    return QueryRun(**data)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
