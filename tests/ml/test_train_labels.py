"""Training from exported files obeys the usage labels the export's manifest lists: C9 ("not
for data science") on the dataset, the label or a used feature refuses it, as it does for the
dataset itself, even once the rows have left the lake; and while the dataset is still in the
sandbox, the labels it has gained since count too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillery import Platform
from distillery.flows.export import MANIFEST, export_dataset
from distillery.lake import labels
from distillery.lake.labels import GovernanceError
from distillery.ml import models, train
from distillery.ml.errors import TrainingError
from tests.ml.conftest import make_set

QUICK = {"trials": 1, "folds": 2, "baseline": False, "plots": False, "shap": False,
         "ground_truth": False}


def export(platform: Platform, tmp_path: Path, field: str | None = "plan") -> Path:
    """Write `ts` (400 rows) labelled C9 (on `field`, or on the dataset when None), export
    it, and return the export's folder."""
    platform.lake.write("ts", make_set(400))
    labels.add_labels(platform, "ts", ["C9"], field=field)
    done = export_dataset(platform, "ts", str(tmp_path / "landing"), run_id="e1",
                          export_time="20250301000000")
    return Path(done.url)


def test_a_c9_field_in_the_manifest_refuses_training_from_the_files(
        ml_platform: Platform, tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path)
    # Labels taken off the dataset afterwards do not free the rows already exported.
    labels.remove_labels(ml_platform, "ts", ["C9"], field="plan")
    with pytest.raises(GovernanceError, match="C9") as refused:
        train(ml_platform, str(folder.parent), **QUICK)
    err = refused.value
    assert (err.label, err.field, err.dataset, err.purpose) == ("C9", "plan", "ts", "training")
    assert "on field 'plan' of dataset 'ts'" in str(err) and str(folder.parent) in str(err)
    assert models(ml_platform) == []


def test_a_c9_column_left_out_of_the_features_does_not_stop_training(
        ml_platform: Platform, tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path)
    result = train(ml_platform, str(folder), exclude=["plan"], **QUICK)
    assert result.version == 1
    assert result.card["training_set"]["labels"] == {"dataset": [], "fields": {"plan": ["C9"]}}


def test_a_c9_label_column_refuses_training(ml_platform: Platform, tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path, field="label")
    with pytest.raises(GovernanceError, match="C9") as refused:
        train(ml_platform, str(folder), exclude=["plan"], **QUICK)
    assert refused.value.field == "label"


def test_a_c9_dataset_in_the_manifest_refuses_training(ml_platform: Platform,
                                                       tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path, field=None)
    ml_platform.drop_dataset("ts")  # the files alone still say what they may be used for
    with pytest.raises(GovernanceError, match="on every field of dataset") as refused:
        train(ml_platform, str(folder), exclude=["plan"], **QUICK)
    assert (refused.value.label, refused.value.field) == ("C9", "*")
    assert refused.value.dataset == json.loads((folder / MANIFEST).read_text())["dataset_id"]


def test_an_older_manifest_without_labels_trains_as_before(ml_platform: Platform,
                                                           tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["labels"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    # The dataset's own labels still count while it is here: without them it trains.
    labels.remove_labels(ml_platform, "ts", ["C9"], field="plan")
    result = train(ml_platform, str(folder), **QUICK)
    assert result.version == 1 and "labels" not in result.card["training_set"]


def test_a_malformed_labels_entry_refuses_to_read_the_files(ml_platform: Platform,
                                                            tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["labels"] = ["C9"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(TrainingError, match="malformed 'labels'"):
        train(ml_platform, str(folder), **QUICK)


def test_a_label_the_dataset_gained_after_the_export_also_refuses(
        ml_platform: Platform, tmp_path: Path) -> None:
    folder = export(ml_platform, tmp_path)  # C9 on `plan` only
    labels.add_labels(ml_platform, "ts", ["C9"], field="visits")  # labelled since
    with pytest.raises(GovernanceError, match="C9") as refused:
        train(ml_platform, str(folder), exclude=["plan"], **QUICK)
    assert (refused.value.field, refused.value.dataset) == ("visits", "ts")
