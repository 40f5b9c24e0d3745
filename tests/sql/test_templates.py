"""Query templates with $name parameters, and query runs with their states."""

from __future__ import annotations

import subprocess
import sys

import pytest

from distillery import Platform
from distillery.errors import AlreadyExistsError, NotFoundError, QueryError
from distillery.sql.errors import ParameterError

COUNT = "SELECT count(*) AS n FROM events WHERE eventType = $kind AND timestamp >= $since"


def test_save_and_run_with_bound_values(journeys: Platform) -> None:
    saved = journeys.sql.save_template("count_kind", COUNT)
    assert saved.parameters == ["kind", "since"]
    run_id = journeys.sql.run_template("count_kind", {"kind": "web.formFilledOut",
                                                      "since": "2024-03-01 00:30:00"})
    run = journeys.sql.query_run(run_id)
    assert (run.state, run.rows, run.error_code, run.template) == ("SUCCESS", 1, None,
                                                                   "count_kind")
    assert run.elapsed_ms is not None and run.started_at <= run.finished_at
    assert journeys.sql.templates.result(run_id).scalar() == 2


def test_a_hostile_value_stays_a_string(journeys: Platform) -> None:
    journeys.sql.save_template("count_kind", COUNT)
    run_id = journeys.sql.run_template("count_kind", {"kind": "x'; DROP TABLE events; --",
                                                      "since": "2024-01-01"})
    assert journeys.sql.query_run(run_id).state == "SUCCESS"
    assert journeys.sql.templates.result(run_id).scalar() == 0
    assert journeys.query("SELECT count(*) FROM events").scalar() == 13


def test_missing_and_unknown_parameters_are_refused_before_running(journeys: Platform) -> None:
    journeys.sql.save_template("count_kind", COUNT)
    with pytest.raises(ParameterError, match="needs a value for parameter\\(s\\) \\$since") \
            as info:
        journeys.sql.run_template("count_kind", {"kind": "x"})
    assert info.value.sqlstate == "42P02"
    with pytest.raises(ParameterError, match="has no parameter\\(s\\) \\$colour"):
        journeys.sql.run_template("count_kind", {"kind": "x", "since": "2024", "colour": "red"})
    assert journeys.sql.query_runs() == []
    with pytest.raises(NotFoundError, match="query template 'ghost' does not exist"):
        journeys.sql.run_template("ghost")


def test_templates_are_not_overwritten_by_accident(journeys: Platform) -> None:
    journeys.sql.save_template("t", "SELECT 1")
    with pytest.raises(AlreadyExistsError, match="template 't' exists already"):
        journeys.sql.save_template("t", "SELECT 2")
    journeys.sql.save_template("t", "SELECT 2", replace=True)
    assert journeys.sql.templates.get("t").sql == "SELECT 2"
    with pytest.raises(QueryError, match="template name"):
        journeys.sql.save_template("../escape", "SELECT 1")
    with pytest.raises(QueryError, match="no SQL statement"):
        journeys.sql.save_template("empty", " ; ")


def test_asynchronous_runs_move_through_their_states(journeys: Platform) -> None:
    journeys.sql.save_template("count_kind", COUNT)
    run_id = journeys.sql.run_template("count_kind", {"kind": "directMarketing.emailSent",
                                                      "since": "2024-01-01"}, async_=True)
    assert journeys.sql.query_run(run_id).state in ("SUBMITTED", "IN_PROGRESS", "SUCCESS")
    run = journeys.sql.wait_for_run(run_id, timeout=60)
    assert run.state == "SUCCESS" and run.rows == 1
    assert journeys.sql.templates.result(run_id).scalar() == 3


def test_a_failing_run_is_recorded_with_its_error_code(journeys: Platform) -> None:
    journeys.sql.save_template("broken", "SELECT * FROM nowhere WHERE x = $x")
    run_id = journeys.sql.run_template("broken", {"x": "1"}, async_=True)
    run = journeys.sql.wait_for_run(run_id, timeout=60)
    assert (run.state, run.error_code) == ("FAILED", "42P01")
    assert "table nowhere does not exist" in run.error_message
    with pytest.raises(NotFoundError, match="kept no rows"):
        journeys.sql.templates.result(run_id)
    listed = journeys.sql.query_runs()
    assert [r.id for r in listed] == [run_id]


def test_a_run_whose_process_died_is_failed(journeys: Platform) -> None:
    run_id = journeys.sql.templates.submit("SELECT 1")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    # As a worker leaves its run when it is killed mid-run.
    with journeys.catalog.connect() as con:
        con.execute("UPDATE query_runs SET state = 'IN_PROGRESS', pid = ? WHERE id = ?",
                    (gone.pid, run_id))
    run = journeys.sql.query_run(run_id)
    assert (run.state, run.error_code) == ("FAILED", "57P01")
    with pytest.raises(QueryError, match="only a SUBMITTED run can start"):
        journeys.sql.templates.execute(run_id)
