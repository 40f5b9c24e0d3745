"""Score files under the batch rules: unknown identities, missing columns, non-numeric and
out-of-range scores become diagnostics counted against the threshold; nothing is half-applied.
And the ingress pick-up: each file once, a bad file never blocks the good ones."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.errors import BatchFailedError
from distillery.lake import xdm
from distillery.scoring import ingest_scores, known_identities, pick_up, score_dataset
from distillery.scoring.ingress import ingress_folder
from tests.conftest import ECID_A, ECID_B, event_rows

UNKNOWN = "11111111111111111111111111111111111111"


@pytest.fixture
def people(platform: Platform, events) -> Platform:
    """Two known people (ECID_A, ECID_B) in a profile-enabled events dataset."""
    platform.ingest(events, event_rows(2, ECID_A) + event_rows(2, ECID_B))
    return platform


def write_csv(path: Path, rows: list[str], header: str = "userId,prediction") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def stored(platform: Platform) -> list[tuple]:
    ds = platform.lake.catalog.find_dataset("propensity_scores")
    if ds is None or ds.version <= 0:
        return []
    return sorted(platform.query("SELECT _tenant.userid, _tenant.propensity FROM "
                                 "propensity_scores").rows())


def errors(platform: Platform, batch_id: str) -> list[tuple]:
    return [(e["code"], e["row"], e["field"]) for e in platform.catalog.batch_errors(batch_id)]


def test_reference_csv_with_known_people_is_ingested(people: Platform, tmp_path: Path) -> None:
    rec = ingest_scores(people, write_csv(tmp_path / "s.csv", [f"{ECID_A},0.25",
                                                               f"{ECID_B},0.75"]))
    assert (rec.state, rec.output_records, rec.failed_records) == ("success", 2, 0)
    assert stored(people) == [(ECID_A, 0.25), (ECID_B, 0.75)]


def test_unknown_identities_under_the_threshold_are_dropped_with_diagnostics(
        people: Platform, tmp_path: Path) -> None:
    rows = [f"{ECID_A},0.{i:02d}" for i in range(1, 30)] + [f"{UNKNOWN},0.5"]
    rec = ingest_scores(people, write_csv(tmp_path / "s.csv", rows), error_threshold=0.05)
    assert (rec.state, rec.input_records, rec.output_records, rec.failed_records) == \
        ("success", 30, 29, 1)
    assert errors(people, rec.id) == [("UNKNOWN_IDENTITY", 30, "_tenant.userid")]
    assert "UNKNOWN_IDENTITY x1" in rec.message
    assert UNKNOWN not in {r[0] for r in stored(people)}


def test_unknown_identities_above_the_threshold_fail_the_batch_and_write_nothing(
        people: Platform, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [f"{ECID_A},0.2", f"{UNKNOWN},0.5"])
    with pytest.raises(BatchFailedError, match="UNKNOWN_IDENTITY x1") as caught:
        ingest_scores(people, path)
    rec = people.batch(caught.value.batch_id)
    assert rec.state == "failed" and rec.output_records == 0
    assert errors(people, rec.id) == [("UNKNOWN_IDENTITY", 2, "_tenant.userid")]
    assert stored(people) == []


def test_a_missing_column_fails_the_whole_file(people: Platform, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [f"{ECID_A},0.2"], header="userId,score")
    with pytest.raises(BatchFailedError, match=r"lacks column\(s\) \['prediction'\]") as caught:
        ingest_scores(people, path)
    rec = people.batch(caught.value.batch_id)
    assert rec.state == "failed"
    assert [e["code"] for e in people.catalog.batch_errors(rec.id)] == ["SCHEMA_MISMATCH"]
    assert stored(people) == []


def test_non_numeric_and_out_of_range_scores_are_rejected_row_by_row(
        people: Platform, tmp_path: Path) -> None:
    rows = [f"{ECID_A},high", f"{ECID_B},1.5", f"{ECID_A},-0.1", f"{ECID_B},nan",
            f"{ECID_A},", f"{ECID_B},0.4"]
    path = write_csv(tmp_path / "s.csv", rows)
    rec = ingest_scores(people, path, error_threshold=0.9)
    assert (rec.output_records, rec.failed_records) == (1, 5)
    assert errors(people, rec.id) == [
        ("TYPE_MISMATCH", 1, "_tenant.propensity"),
        ("SCORE_OUT_OF_RANGE", 2, "_tenant.propensity"),
        ("SCORE_OUT_OF_RANGE", 3, "_tenant.propensity"),
        ("REQUIRED_FIELD_MISSING", 4, "_tenant.propensity"),  # CSV readers take nan as empty
        ("REQUIRED_FIELD_MISSING", 5, "_tenant.propensity"),
    ]
    assert stored(people) == [(ECID_B, 0.4)]
    with pytest.raises(BatchFailedError, match="TYPE_MISMATCH x1"):
        ingest_scores(people, path)  # the default 5% threshold
    frame = pa.table({"userId": [ECID_A, ECID_B], "prediction": [float("nan"), 0.6]})
    rec = ingest_scores(people, frame, error_threshold=0.5)
    assert errors(people, rec.id) == [("SCORE_OUT_OF_RANGE", 1, "_tenant.propensity")]
    assert stored(people) == [(ECID_B, 0.4), (ECID_B, 0.6)]


def test_resending_a_batch_id_changes_nothing(people: Platform, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [f"{ECID_A},0.3"])
    first = ingest_scores(people, path, batch_id="scores-2025-03-01")
    again = ingest_scores(people, path, batch_id="scores-2025-03-01")
    assert first.id == again.id and stored(people) == [(ECID_A, 0.3)]


def test_an_explicit_mapping_and_extra_columns(people: Platform, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [f"{ECID_A},0.3,4"], header="person,p,decile")
    rec = ingest_scores(people, path, mapping={"person": "_tenant.userid",
                                               "p": "_tenant.propensity",
                                               "decile": "_tenant.decile"})
    assert rec.output_records == 1
    assert people.query("SELECT _tenant.decile FROM propensity_scores").scalar() == 4


def test_known_identities_come_from_other_profile_datasets(people: Platform) -> None:
    target = score_dataset(people)
    assert sorted(known_identities(people, target).to_pylist()) == [ECID_A, ECID_B]
    other = people.create_dataset("not_profile", xdm.experience_event_schema())
    people.ingest(other, event_rows(1, UNKNOWN))
    assert UNKNOWN not in known_identities(people, target).to_pylist()


def test_pick_up_ingests_each_file_once_and_a_bad_file_alone_fails(
        people: Platform, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    folder = Path(ingress_folder(str(landing), score_dataset(people)))
    good = folder / "exportTime=20250301000000"
    bad = folder / "exportTime=20250302000000"
    good.mkdir(parents=True)
    bad.mkdir(parents=True)
    write_csv(good / "part-00000.csv", [f"{ECID_A},0.1", f"{ECID_B},0.9"])
    write_csv(bad / "part-00000.csv", [f"{UNKNOWN},0.5"])
    (good / ".part-00001.csv.tmp").write_text("userId,prediction\nhalf-written")
    first = {p.url.rsplit("/", 2)[-2]: p for p in pick_up(people, str(landing))}
    assert {k: v.state for k, v in first.items()} == {"exportTime=20250301000000": "ingested",
                                                      "exportTime=20250302000000": "failed"}
    assert "UNKNOWN_IDENTITY" in first["exportTime=20250302000000"].message
    second = {p.url.rsplit("/", 2)[-2]: p.state for p in pick_up(people, str(landing))}
    assert second == {"exportTime=20250301000000": "skipped",
                      "exportTime=20250302000000": "failed"}
    assert stored(people) == [(ECID_A, 0.1), (ECID_B, 0.9)]
