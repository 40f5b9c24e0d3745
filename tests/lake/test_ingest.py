"""Batch ingestion: inputs, validation with diagnostics, the error threshold, idempotency,
replay and revert, and that a failed batch changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillery import Platform
from distillery.errors import AlreadyExistsError, BatchFailedError, IngestionError, SchemaError
from distillery.lake import tables, xdm
from distillery.lake.schema import Field, FieldGroup, Schema
from tests.conftest import ECID_A, ECID_B, event_rows


def count(platform: Platform, table: str = "events") -> int:
    return platform.query(f"SELECT count(*) FROM {table}").scalar()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ingest_every_kind_of_input(platform: Platform, events, tmp_path: Path) -> None:
    rows = event_rows(5)
    flat = pa.Table.from_pylist(rows)
    pq.write_table(flat, tmp_path / "e.parquet")
    write_jsonl(tmp_path / "e.jsonl", event_rows(5, ECID_B))
    inputs = [rows, flat, flat.to_pandas(), pl.from_arrow(flat), tmp_path / "e.parquet",
              str(tmp_path / "e.jsonl")]
    for i, data in enumerate(inputs, start=1):
        rec = platform.ingest(events, data)
        assert rec.state == "success" and rec.output_records == 5 and rec.snapshot == i
    assert count(platform) == 30
    assert platform.query("SELECT count(DISTINCT _tenant.userid) FROM events").scalar() == 2


def test_csv_with_dotted_headers_nests_into_structs(platform: Platform, tmp_path: Path) -> None:
    platform.create_dataset("scores", xdm.propensity_schema(), profile_enabled=True)
    path = tmp_path / "scores.csv"
    path.write_text(f"_tenant.userid,_tenant.propensity\n{ECID_A},0.25\n{ECID_B},0.75\n")
    rec = platform.ingest("scores", path)
    assert rec.output_records == 2 and rec.input_bytes == path.stat().st_size
    got = platform.query("SELECT _tenant.propensity FROM scores ORDER BY 1").rows()
    assert got == [(0.25,), (0.75,)]


def test_mapping_renames_source_columns(platform: Platform, tmp_path: Path) -> None:
    platform.create_dataset("scores", xdm.propensity_schema(), profile_enabled=True)
    path = tmp_path / "s.csv"
    path.write_text(f"userId,prediction,ignored\n{ECID_A},0.5,x\n")
    platform.ingest("scores", path, mapping={"userId": "_tenant.userid",
                                             "prediction": "_tenant.propensity"})
    assert platform.query("SELECT _tenant.userid, _tenant.propensity FROM scores").rows() == [
        (ECID_A, 0.5)]


def test_bad_rows_under_threshold_are_dropped_and_reported(platform: Platform, events,
                                                           tmp_path: Path) -> None:
    rows = event_rows(100)
    rows[3]["_tenant"]["userid"] = "anonymous"
    rows[7]["timestamp"] = "yesterday"
    del rows[11]["_id"]
    rows[20]["web"]["webInteraction"] = {"type": "teleport"}
    rows[42]["identityMap"]["ECID"][0]["id"] = "12345"
    path = write_jsonl(tmp_path / "events.jsonl", rows)
    with path.open("a") as fh:
        fh.write("{this is not json\n")
    rec = platform.ingest(events, path, error_threshold=0.06)
    assert rec.state == "success"
    assert (rec.input_records, rec.output_records, rec.failed_records) == (101, 95, 6)
    errors = {e["row"]: e for e in platform.catalog.batch_errors(rec.id)}
    assert errors[4]["code"] == "INVALID_IDENTITY" and errors[4]["field"] == "_tenant.userid"
    assert "anonymous" in errors[4]["message"]
    assert json.loads(errors[4]["record"])["_id"] == "evt-1234-3"
    assert errors[8]["code"] == "TYPE_MISMATCH" and errors[8]["field"] == "timestamp"
    assert errors[12]["code"] == "REQUIRED_FIELD_MISSING" and errors[12]["field"] == "_id"
    assert errors[21]["code"] == "ENUM_MISMATCH"
    assert errors[43]["code"] == "INVALID_IDENTITY" and errors[43]["field"] == "identityMap"
    assert errors[101]["code"] == "UNPARSABLE_ROW"
    assert all(e["source"] == str(path) for e in errors.values())
    assert count(platform) == 95


def test_batch_above_threshold_fails_and_writes_nothing(platform: Platform, events) -> None:
    platform.ingest(events, event_rows(10))
    rows = event_rows(10, ECID_B)
    for r in rows[:2]:
        r["_tenant"]["userid"] = "null"
    with pytest.raises(BatchFailedError, match=r"2 of 10 records failed \(20.0%\)"):
        platform.ingest(events, rows, batch_id="too-bad")
    rec = platform.batch("too-bad")
    assert rec.state == "failed" and rec.snapshot is None
    assert [e["code"] for e in platform.catalog.batch_errors("too-bad")] == ["INVALID_IDENTITY"] * 2
    assert count(platform) == 10
    assert tables.version(platform.lake.path(events)) == 1
    assert not list(platform.lake.path(events).glob("part-too-bad-*"))


def test_unknown_column_fails_the_batch_naming_it(platform: Platform, events) -> None:
    rows = event_rows(3)
    rows[0]["colour"] = "red"
    with pytest.raises(BatchFailedError, match=r"SCHEMA_MISMATCH.*\['colour'\]"):
        platform.ingest(events, rows)
    assert count(platform) == 0


def test_unreadable_file_fails_the_batch_naming_it(platform: Platform, events,
                                                   tmp_path: Path) -> None:
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(BatchFailedError, match="UNREADABLE_FILE.*broken.parquet"):
        platform.ingest(events, bad)
    with pytest.raises(BatchFailedError, match="does not exist"):
        platform.ingest(events, tmp_path / "missing.jsonl")
    assert count(platform) == 0


def test_numbers_booleans_and_dates_from_text(platform: Platform, tmp_path: Path) -> None:
    schema = Schema("typed", "adhoc", (FieldGroup("g", (
        Field("n", "long"), Field("x", "double"), Field("b", "boolean"), Field("d", "date"),
        Field("t", "timestamp"))),))
    platform.create_dataset("typed", schema)
    path = tmp_path / "typed.csv"
    path.write_text("n,x,b,d,t\n1,1.5,true,2024-02-03,2024-02-03 04:05:06\n"
                    "2,-2e3,no,2024-02-04,2024-02-04T00:00:00+02:00\n"
                    "x,1,maybe,2024-13,soon\n")
    rec = platform.ingest("typed", path, error_threshold=0.5)
    assert rec.output_records == 2
    errors = platform.catalog.batch_errors(rec.id)
    assert [(e["row"], e["field"]) for e in errors] == [(3, "n")]
    rows = platform.query("SELECT n, x, b, CAST(d AS VARCHAR), "
                          "CAST(t AS VARCHAR) FROM typed ORDER BY n").rows()
    assert rows[0][:3] == (1, 1.5, True) and rows[1][:3] == (2, -2000.0, False)
    assert rows[1][4].startswith("2024-02-03 22:00:00")


def test_same_batch_id_is_idempotent(platform: Platform, events) -> None:
    first = platform.ingest(events, event_rows(10), batch_id="client-1")
    again = platform.ingest(events, event_rows(10), batch_id="client-1")
    assert again.id == first.id and again.snapshot == first.snapshot
    assert count(platform) == 10
    with pytest.raises(AlreadyExistsError):
        other = platform.create_dataset("other", xdm.experience_event_schema())
        platform.ingest(other, event_rows(1), batch_id="client-1")


def test_batch_id_cannot_escape_the_table_folder(platform: Platform, events) -> None:
    with pytest.raises(IngestionError, match="batch id"):
        platform.ingest(events, event_rows(1), batch_id="../../etc/passwd")


def test_failed_batch_can_be_retried_with_the_same_id(platform: Platform, events) -> None:
    bad = event_rows(2)
    bad[0]["_tenant"]["userid"] = ""
    with pytest.raises(BatchFailedError):
        platform.ingest(events, bad, batch_id="retry-me")
    rec = platform.ingest(events, event_rows(2), batch_id="retry-me")
    assert rec.state == "success" and count(platform) == 2
    assert platform.catalog.batch_errors("retry-me") == []


def test_replay_replaces_and_revert_removes(platform: Platform, events) -> None:
    first = platform.ingest(events, event_rows(10))
    replay = platform.ingest(events, event_rows(4, ECID_B), replaces=first.id)
    assert platform.batch(first.id).state == "replaced"
    assert platform.query("SELECT DISTINCT _tenant.userid FROM events").rows() == [(ECID_B,)]
    assert count(platform) == 4
    platform.lake.revert_batch(replay.id)
    assert count(platform) == 0
    assert platform.batch(replay.id).state == "reverted"
    with pytest.raises(IngestionError, match="only a successful batch"):
        platform.lake.revert_batch(replay.id)


def test_abandon_and_context_manager_errors_write_nothing(platform: Platform, events) -> None:
    batch = platform.create_batch(events)
    batch.add(event_rows(5))
    batch.abandon()
    assert platform.batch(batch.id).state == "abandoned"
    with pytest.raises(RuntimeError), platform.create_batch(events, "boom") as b:
        b.add(event_rows(5))
        raise RuntimeError("client crashed")
    assert platform.batch("boom").state == "abandoned"
    assert count(platform) == 0


def test_many_adds_make_one_snapshot(platform: Platform, events) -> None:
    with platform.create_batch(events, "multi") as batch:
        for i in range(3):
            batch.add(event_rows(4, start=None) if i == 0 else event_rows(4, ECID_B))
    history = tables.history(platform.lake.path(events))
    assert [h.get(tables.BATCH_KEY) for h in history[:1]] == ["multi"]
    assert count(platform) == 12 and platform.batch("multi").snapshot == 1


def test_commit_recovered_from_the_table_log(platform: Platform, events) -> None:
    """A process that died between the Delta commit and the catalog update."""
    platform.ingest(events, event_rows(3), batch_id="landed")
    platform.catalog.update_batch("landed", state="staging")
    again = platform.ingest(events, event_rows(3), batch_id="landed")
    assert again.state == "success" and count(platform) == 3


def test_profile_enabled_needs_a_primary_identity(platform: Platform) -> None:
    schema = Schema("no id", "profile", (FieldGroup("g", (Field("a", "string"),)),))
    with pytest.raises(SchemaError, match="no primary identity"):
        platform.create_dataset("p", schema, profile_enabled=True)


def test_missing_primary_identity_is_rejected(platform: Platform) -> None:
    platform.create_dataset("profiles", xdm.profile_schema(), profile_enabled=True)
    rec = platform.ingest("profiles", [{"loyalty": {"tier": "gold"}},
                                       {"_tenant": {"userid": ECID_A}}], error_threshold=0.5)
    assert rec.output_records == 1
    assert platform.catalog.batch_errors(rec.id)[0]["code"] == "MISSING_PRIMARY_IDENTITY"


def test_duplicate_dataset_names_are_refused(platform: Platform, events) -> None:
    with pytest.raises(AlreadyExistsError):
        platform.create_dataset("events", xdm.experience_event_schema())
    assert platform.create_dataset("events", xdm.experience_event_schema(),
                                   exist_ok=True).id == events.id


def test_drop_dataset_removes_data_and_table(platform: Platform, events) -> None:
    platform.ingest(events, event_rows(2))
    assert count(platform) == 2
    platform.drop_dataset("events")
    assert not platform.lake.path(events).exists()
    with pytest.raises(Exception, match="does not exist"):
        count(platform)


def test_event_ids_are_generated_when_missing(platform: Platform, events) -> None:
    rows = event_rows(3)
    for r in rows:
        del r["_id"]
    batch = platform.create_batch(events)
    batch.add(pd.DataFrame({"timestamp": [r["timestamp"] for r in rows],
                            "_tenant.userid": [ECID_A] * 3}))
    batch.complete()
    ids = [r[0] for r in platform.query("SELECT _id FROM events").rows()]
    assert len(set(ids)) == 3 and all(len(i) == 36 for i in ids)


def test_write_streams_into_a_new_dataset_then_appends_and_overwrites(platform: Platform
                                                                      ) -> None:
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("userid", pa.string()), ("score", pa.float64())]),
        [pa.record_batch({"userid": ["a", "b"], "score": [0.1, 0.2]})] * 3)
    first = platform.lake.write("scores", reader)
    assert first.output_records == 6
    assert platform.dataset("scores").schema.cls == "adhoc"
    platform.lake.write("scores", pa.table({"userid": ["c"], "score": [0.3]}))
    assert count(platform, "scores") == 7
    platform.lake.write("scores", pa.table({"userid": ["d"], "score": [0.4]}), mode="overwrite")
    assert platform.query("SELECT userid FROM scores").rows() == [("d",)]
    assert platform.batch(first.id).state == "replaced"
    with pytest.raises(AlreadyExistsError):
        platform.lake.write("scores", pa.table({"userid": ["e"], "score": [0.5]}), mode="create")
    assert count(platform, "scores") == 1


def test_a_file_is_reported_under_the_source_name_given(platform: Platform, events,
                                                        tmp_path: Path) -> None:
    rows = event_rows(20)
    rows[1]["_tenant"]["userid"] = "invalid"
    path = write_jsonl(tmp_path / "download-123.jsonl", rows)
    batch = platform.create_batch(events, error_threshold=0.1)
    batch.add(path, source="s3://bucket/in/events.jsonl")
    rec = batch.complete()
    errors = platform.catalog.batch_errors(rec.id)
    assert [e["source"] for e in errors] == ["s3://bucket/in/events.jsonl"]
    broken = tmp_path / "tmp-999.parquet"
    broken.write_bytes(b"nope")
    with pytest.raises(BatchFailedError, match="s3://bucket/in/bad.parquet") as info:
        b = platform.create_batch(events)
        b.add(broken, source="s3://bucket/in/bad.parquet")
        b.complete()
    assert "tmp-999" not in str(info.value)
