"""File destinations through the dataflow storage layer: formats, compression, filename
templates, full and first-full-then-incremental exports, manifests last, governance."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distillery.audiences import Audiences
from distillery.destinations import Destinations, RunStore, activate
from distillery.errors import ConfigError, DistilleryError
from distillery.lake import labels
from distillery.lake.labels import GovernanceError
from tests.audiences.conftest import ecid

ALLOWED = {ecid(i) for i in (2, 4, 5, 6, 7, 8, 9)}  # person 3 refused marketing


def drop(platform, folder: Path, **options) -> None:  # type: ignore[no-untyped-def]
    Destinations(platform).create("drop", "files", url=str(folder), **options)


def manifests(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.manifest.json"))]


def csv_rows(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_full_csv_export_with_identities_attributes_and_a_manifest(likely,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "out"
    drop(likely.platform, out, format="csv", identities=["Email=personalEmail.address"],
         attributes=["score=_tenant.propensity", "person.name.lastName"],
         filename_template="{audience}_{date}")
    run = activate(likely.platform, "likely", "drop")
    assert (run.state, run.mode, run.sent, run.excluded) == ("succeeded", "full", 7, 1)
    [manifest] = manifests(out)
    [part] = manifest["files"]
    path = out / part["name"]
    assert part["name"].startswith("likely_") and part["name"].endswith(".csv")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == part["sha256"]
    assert (manifest["rows"], manifest["mode"], manifest["audience"]["name"]) == (7, "full",
                                                                                  "likely")
    rows = csv_rows(path)
    assert list(rows[0]) == ["ECID", "Email", "score", "person.name.lastName",
                             "segmentMembership.status"]
    assert {r["ECID"] for r in rows} == ALLOWED
    assert {r["segmentMembership.status"] for r in rows} == {"realized"}
    by_id = {r["ECID"]: r for r in rows}
    assert by_id[ecid(6)]["Email"] == "p6@example.com" and by_id[ecid(6)]["score"] == "0.6"


def test_first_full_then_incremental_sends_only_who_entered_and_exited(likely,
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    drop(likely.platform, out, format="json", export_mode="incremental",
         attributes=["_tenant.propensity"], filename_template="{audience}_{run}")
    first = activate(likely.platform, "likely", "drop")
    assert (first.mode, first.sent) == ("full", 7)
    likely.rescore({9: 0.1, 1: 0.9, 2: 0.3})  # 9 exits, 1 enters, 2 changes score
    Audiences(likely.platform).evaluate("likely")
    second = activate(likely.platform, "likely", "drop")
    assert (second.mode, second.entered, second.exited, second.updated, second.sent) == (
        "incremental", 1, 1, 1, 2)
    newest = next(m for m in manifests(out) if m["run_id"] == second.id)
    lines = (out / newest["files"][0]["name"]).read_text().splitlines()
    sent = {json.loads(x)["ECID"]: json.loads(x)["segmentMembership.status"] for x in lines}
    assert sent == {ecid(1): "realized", ecid(9): "exited"}


def test_parquet_with_compression_and_several_parts(likely, tmp_path: Path) -> None:
    out = tmp_path / "out"
    drop(likely.platform, out, format="parquet", compression="zstd", rows_per_file=3,
         batch_size=2, filename_template="{destination}-{audience_id}")
    run = activate(likely.platform, "likely", "drop")
    [manifest] = manifests(out)
    names = [f["name"] for f in manifest["files"]]
    audience_id = Audiences(likely.platform).get("likely").id
    assert names == [f"drop-{audience_id}.parquet", f"drop-{audience_id}_2.parquet",
                     f"drop-{audience_id}_3.parquet"]
    assert [f["rows"] for f in manifest["files"]] == [3, 3, 1] and run.sent == 7
    assert pq.ParquetFile(out / names[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    ids = set()
    for name in names:
        ids |= set(pq.read_table(out / name).column("ECID").to_pylist())
    assert ids == ALLOWED


def test_gzip_csv_and_a_file_url(likely, tmp_path: Path) -> None:
    out = tmp_path / "zipped"
    Destinations(likely.platform).create("drop", "files", url=out.as_uri(), format="csv",
                                         compression="gzip")
    activate(likely.platform, "likely", "drop")
    [manifest] = manifests(out)
    assert manifest["files"][0]["name"].endswith(".csv.gz")
    assert {r["ECID"] for r in csv_rows(out / manifest["files"][0]["name"])} == ALLOWED


def test_a_failed_export_publishes_nothing_and_goes_again(likely, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    drop(likely.platform, out, format="csv", rows_per_file=3, batch_size=3,
         filename_template="{audience}")
    # Something already sits where the second part must go: the export fails half way.
    (out / "likely_2.csv").mkdir()
    (out / "likely_2.csv" / "keep").write_text("x")
    with pytest.raises(DistilleryError):
        activate(likely.platform, "likely", "drop")
    assert sorted(p.name for p in out.iterdir()) == ["likely_2.csv"]  # no part, no manifest
    assert RunStore(likely.platform.catalog).list("drop")[0].state == "failed"
    (out / "likely_2.csv" / "keep").unlink()
    (out / "likely_2.csv").rmdir()
    run = activate(likely.platform, "likely", "drop")
    assert run.sent == 7 and run.entered == 7  # nothing counted as delivered before
    assert manifests(out)[0]["rows"] == 7


def test_names_never_overwrite_an_earlier_export(likely, tmp_path: Path) -> None:
    out = tmp_path / "out"
    drop(likely.platform, out, filename_template="{audience}")
    activate(likely.platform, "likely", "drop")
    activate(likely.platform, "likely", "drop")
    assert len(manifests(out)) == 2 and len(list(out.glob("*.csv"))) == 2


def test_opted_out_people_and_labelled_fields_never_reach_a_file(likely,
                                                                 tmp_path: Path) -> None:
    platform = likely.platform
    out = tmp_path / "out"
    drop(platform, out, identities=["Email=personalEmail.address"], third_party=True)
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail")
    with pytest.raises(GovernanceError, match="label C2 .*field 'personalEmail.address'.*"
                                              "forbids export:third-party") as info:
        activate(platform, "likely", "drop")
    assert (info.value.label, info.value.field) == ("C2", "personalEmail.address")
    assert not out.exists() or list(out.iterdir()) == []
    # C12 forbids any export, even to our own storage; it is checked on the rule's fields.
    labels.remove_labels(platform, "profiles", ["C2"], field="personalEmail")
    labels.add_labels(platform, "profiles", ["C12"], field="_tenant.propensity")
    with pytest.raises(GovernanceError, match="C12 .*'_tenant.propensity'.*in the audience "
                                              "definition"):
        activate(platform, "likely", "drop", dry_run=True)
    labels.remove_labels(platform, "profiles", ["C12"], field="_tenant.propensity")
    activate(platform, "likely", "drop")
    text = "".join(p.read_text() for p in out.glob("*.csv"))
    assert ecid(3) not in text and "p3@example.com" not in text
    assert all(e in text for e in ALLOWED)


@pytest.mark.parametrize(("options", "message"), [
    ({"format": "xml"}, "option 'format'"),
    ({"compression": "zstd"}, "compression 'zstd' is not supported for csv"),
    ({"filename_template": "{audience}_{week}"}, "unknown placeholder\\(s\\) \\['week'\\]"),
    ({"filename_template": "../{audience}"}, "without '..'"),
    ({"colour": "red"}, "option 'colour'"),
    ({"export_mode": "sometimes"}, "option 'export_mode'"),
    ({"batch_size": 0}, "option 'batch_size'"),
])
def test_bad_options_are_named(likely, tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        drop(likely.platform, tmp_path / "out", **options)
    assert Destinations(likely.platform).list() == []


def test_unknown_attributes_and_duplicate_columns(likely, tmp_path: Path) -> None:
    drop(likely.platform, tmp_path / "out")
    with pytest.raises(DistilleryError, match="attribute 'person.nmae' is not a field of table "
                                              "'profiles'; did you mean person.name"):
        activate(likely.platform, "likely", "drop", attributes=["person.nmae"])
    with pytest.raises(ConfigError, match="column 'x' is mapped twice"):
        activate(likely.platform, "likely", "drop",
                 attributes=["x=_tenant.propensity", "x=person.name.lastName"])
    with pytest.raises(ConfigError, match="attribute 'person.name' is a struct"):
        activate(likely.platform, "likely", "drop", attributes=["person.name"])
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
