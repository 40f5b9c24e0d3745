"""Training end to end on real Delta datasets and a real MLflow store under the home."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from distillery import Platform
from distillery.ml import load_champion, load_model, models, train
from distillery.ml.errors import (
    LabelError,
    LeakageError,
    MissingExtraError,
    ModelNotFoundError,
    ModelOptionError,
    TrainingError,
)
from distillery.ml.registry import Registry
from tests.ml.conftest import FAST, make_set


def test_training_registers_a_calibrated_champion_with_its_card(ml_platform: Platform,
                                                              training_set: str) -> None:
    result = train(ml_platform, training_set, **FAST)
    m = result.metrics
    assert result.version == 1 and result.promoted and result.uri == "models:/propensity/1"
    for key in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "cv_roc_auc_mean",
                "cv_roc_auc_std", "baseline_cv_roc_auc_mean", "precision", "recall", "tp"):
        assert key in m
    assert m["roc_auc"] > 0.7  # the label follows the features
    assert abs(m["calibration_in_the_large"]) < 0.15
    card = result.card
    assert card["features"] == ["visits", "spend", "plan", "opted_in"]
    assert card["training_set"]["name"] == "ts" and card["training_set"]["snapshot"] == 1
    assert card["split"]["by_person"] and len(card["cross_validation"]["roc_auc_folds"]) == 3
    assert card["calibration"]["method"] in ("isotonic", "platt")
    assert [d["decile"] for d in card["deciles"]] == list(range(1, 11))

    champion = load_champion(ml_platform)
    assert (champion.version, champion.run_id) == (1, result.run_id)
    rows = make_set(50, seed=9)
    assert np.allclose(champion.predict(rows), result.model.probability(rows))
    # The pyfunc applies the same model, from a frame of the card's input types.
    frame = rows.select(champion.features).to_pandas().astype(
        {c: "float64" for c, t in champion.card["input_types"].items() if t == "double"})
    assert np.allclose(champion.pyfunc.predict(frame), champion.predict(rows))
    listed = models(ml_platform)
    assert [(v["name"], v["version"], v["aliases"]) for v in listed] == [
        ("propensity", 1, ["champion"])]


@pytest.mark.slow
def test_run_logs_params_metrics_plots_and_the_card(ml_platform: Platform,
                                                    training_set: str) -> None:
    result = train(ml_platform, training_set, trials=2, folds=3, plots=True, shap=False)
    with Registry.of(ml_platform).client() as client:
        run = client.get_run(result.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.metrics["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
        assert run.data.params["model"] == "lightgbm"
        files = {f.path for f in client.list_artifacts(result.run_id, "plots")}
        card = json.loads((ml_platform.root / "models" / "artifacts").joinpath(
            *_artifact_path(run.info.artifact_uri, "model_card.json")).read_text())
    assert {"plots/roc.png", "plots/precision_recall.png", "plots/gains.png",
            "plots/reliability.png", "plots/feature_importance.png"} <= files
    assert card["metrics"]["roc_auc"] == pytest.approx(result.metrics["roc_auc"])


def _artifact_path(uri: str, name: str) -> list[str]:
    return [*uri.split("/artifacts/", 1)[1].split("/"), name]


@pytest.mark.slow
def test_a_new_training_is_a_new_version_and_moves_the_champion(ml_platform: Platform,
                                                                training_set: str) -> None:
    train(ml_platform, training_set, **FAST)
    second = train(ml_platform, training_set, model="logreg", **FAST)
    assert second.version == 2 and load_champion(ml_platform).version == 2
    third = train(ml_platform, training_set, promote=False, **FAST)
    assert third.version == 3 and load_champion(ml_platform).version == 2
    assert load_model(ml_platform, version=3).card["model"]["family"] == "lightgbm"


@pytest.mark.parametrize(("options", "message"), [
    ({"model": "deep_forest"}, "model 'deep_forest' is unknown"),
    ({"trials": -1}, "training option 'trials'"),
    ({"colour": "red"}, "training option 'colour' is unknown"),
    ({"calibration": "beta"}, "training option 'calibration'"),
])
def test_bad_options_are_refused_before_anything_is_read(ml_platform: Platform,
                                                         options: dict, message: str) -> None:
    with pytest.raises(ModelOptionError, match=message):
        train(ml_platform, "no_such_dataset", **options)
    assert models(ml_platform) == []


def test_a_failed_training_registers_nothing_and_keeps_the_champion(
        ml_platform: Platform, training_set: str) -> None:
    first = train(ml_platform, training_set, **FAST)
    ml_platform.lake.write("leaky", make_set().append_column("label_copy", make_set()["label"]))
    failures = [({"label": "nope"}, TrainingError, "label column 'nope' is not in"),
                ({"label": "spend"}, LabelError, "holds values such as"),
                ({"features": ["visits", "label_copy"]}, LeakageError,
                 "'label_copy' is the label")]
    for options, error, message in failures:
        with pytest.raises(error, match=message):
            train(ml_platform, "leaky", **{**FAST, **options})
    with pytest.raises(ModelNotFoundError.__mro__[1], match="neither a dataset"):
        train(ml_platform, "no_such_dataset", **FAST)
    assert [v["version"] for v in models(ml_platform)] == [1]
    assert load_champion(ml_platform).run_id == first.run_id


def test_a_failure_while_registering_leaves_no_version(ml_platform: Platform,
                                                       training_set: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("mlflow.MlflowClient.set_registered_model_alias", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        train(ml_platform, training_set, **FAST)
    monkeypatch.undo()
    assert models(ml_platform) == []
    with pytest.raises(ModelNotFoundError, match="'propensity' is not registered"):
        load_champion(ml_platform)


def test_exported_parquet_files_train_from_the_latest_export(ml_platform: Platform,
                                                             tmp_path) -> None:
    import pyarrow.parquet as pq

    root = tmp_path / "cmle" / "egress" / "ds1"
    old, new = root / "exportTime=20250101000000", root / "exportTime=20250301120000"
    for folder, table in ((old, make_set(400, seed=5)), (new, make_set(2000, seed=6))):
        folder.mkdir(parents=True)
        pq.write_table(table.slice(0, table.num_rows // 2), folder / "part-00000.parquet",
                       compression="gzip")
        pq.write_table(table.slice(table.num_rows // 2), folder / "part-00001.parquet",
                       compression="gzip")
    result = train(ml_platform, str(root), **FAST)
    source = result.card["training_set"]
    assert (source["kind"], source["export_time"], source["files"], source["rows"]) == (
        "files", "20250301120000", 2, 2000)
    with pytest.raises(ModelNotFoundError.__mro__[1], match="does not exist"):
        train(ml_platform, str(tmp_path / "missing" / "folder"), **FAST)


def test_bring_your_own_frame_with_another_label_and_no_person(ml_platform: Platform) -> None:
    table = make_set(2000).drop_columns(["userid", "cutoff"]).rename_columns(
        ["visits", "spend", "plan", "opted_in", "bought"])
    result = train(ml_platform, table.to_pandas(), label="bought", name="shop", **FAST)
    assert result.card["person_column"] is None and not result.card["split"]["by_person"]
    assert result.card["training_set"]["kind"] == "frame"
    assert load_champion(ml_platform, "shop").card["label"] == "bought"


def test_sampled_negatives_are_corrected_to_the_population_rate(ml_platform: Platform) -> None:
    full = make_set(12000, seed=4)
    rng = np.random.default_rng(0)
    rate = 0.25
    keep = pa.array((full["label"].to_numpy() == 1) | (rng.random(full.num_rows) < rate))
    ml_platform.lake.write("sampled", full.filter(keep), tags={
        "feature_definition": json.dumps({"label": "label", "negative_sampling_rate": rate})})
    result = train(ml_platform, "sampled", **FAST)
    population_rate = float(np.mean(full["label"].to_numpy()))
    assert result.card["sampling"] == {"negative_rate": rate, "source": "feature definition",
                                       "max_rows": None, "corrected": True}
    # The weighted test rows stand for the population: the mean prediction matches its rate.
    assert abs(result.metrics["mean_predicted"] / population_rate - 1) < 0.15
    assert abs(result.metrics["observed_rate"] / population_rate - 1) < 0.15
    scored = result.model.probability(full)
    assert abs(scored.mean() / population_rate - 1) < 0.1


def test_max_rows_samples_negatives_and_corrects_for_them(ml_platform: Platform) -> None:
    full = make_set(12000, seed=4)
    labels = full["label"].to_numpy()
    ml_platform.lake.write("large", full)
    result = train(ml_platform, "large", max_rows=9000, **FAST)
    card, positives = result.card, int(labels.sum())
    assert card["training_set"]["positives"] == positives  # every positive kept
    assert abs(card["training_set"]["rows_used"] - 9000) < 300
    rate = card["sampling"]["negative_rate"]
    assert abs(rate - (9000 - positives) / (len(labels) - positives)) < 1e-9
    assert (card["sampling"]["source"], card["sampling"]["corrected"]) == ("max_rows", True)
    assert any("max_rows" in note for note in card["notes"])
    # Without the correction the model would predict the sample's rate, far above this one.
    population_rate = float(labels.mean())
    assert abs(result.model.probability(full).mean() / population_rate - 1) < 0.1
    assert abs(result.metrics["observed_rate"] / population_rate - 1) < 0.15
    assert train(ml_platform, "large", max_rows=20000, **FAST).card["sampling"][
        "negative_rate"] is None  # a set within the limit is left whole


def test_several_cutoffs_are_split_by_time(ml_platform: Platform) -> None:
    ml_platform.lake.write("timed", make_set(4000, persons=1500, cutoffs=3))
    result = train(ml_platform, "timed", **FAST)
    assert result.card["split"]["by_time"]


@pytest.mark.parametrize("family", ["logreg", pytest.param("hist_gbm", marks=pytest.mark.slow),
                                    pytest.param("random_forest", marks=pytest.mark.slow)])
def test_every_scikit_learn_family_trains(ml_platform: Platform, training_set: str,
                                          family: str) -> None:
    result = train(ml_platform, training_set, model=family, baseline=False, **FAST)
    assert result.card["model"]["family"] == family and result.metrics["roc_auc"] > 0.7


def test_xgboost_trains_when_installed_or_names_its_extra(ml_platform: Platform,
                                                          training_set: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import importlib.util
    import sys

    if importlib.util.find_spec("xgboost") is not None:
        result = train(ml_platform, training_set, model="xgboost", baseline=False, **FAST)
        assert result.metrics["roc_auc"] > 0.7
    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'distillery\[xgboost\]'"):
        train(ml_platform, training_set, model="xgboost", **FAST)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_model_whatever_the_row_order(ml_platform: Platform
                                                                    ) -> None:
    table = make_set(3000)
    table = table.set_column(0, "userid", pa.array([f"u{i:05d}" for i in range(3000)]))
    shuffled = table.take(np.random.default_rng(1).permutation(table.num_rows))
    a = train(ml_platform, table, name="a", **FAST)
    b = train(ml_platform, shuffled, name="b", **FAST)
    assert a.card["model"]["params"] == b.card["model"]["params"]
    assert a.metrics["cv_roc_auc_mean"] == b.metrics["cv_roc_auc_mean"]
    assert a.metrics["roc_auc"] == b.metrics["roc_auc"]


@pytest.mark.slow
def test_synthetic_data_is_compared_with_its_ground_truth(ml_platform: Platform) -> None:
    from datetime import UTC, datetime

    from distillery.features import build_training_set
    from distillery.synth import generate

    generate(ml_platform, 4000, 11, as_of=datetime(2025, 3, 1, tzinfo=UTC))
    build_training_set(ml_platform, "experience_events", "training_set", ["2025-02-01"],
                       horizon="14d")
    result = train(ml_platform, "training_set", **FAST)
    m = result.metrics
    assert result.card["ground_truth"]["note"] == ""
    assert m["truth_label_agreement"] == 1.0  # the set's label is the truth's conversion
    assert m["truth_clairvoyant_roc_auc"] > 0.9 > m["roc_auc"]
    assert m["roc_auc_to_clairvoyant"] == pytest.approx(m["roc_auc"] / m[
        "truth_clairvoyant_roc_auc"], rel=0.05)
    assert result.card["feature_definition"]["horizon_seconds"] == 14 * 86400


def test_the_champion_scores_arrow_batches_pandas_and_polars_alike(ml_platform: Platform,
                                                                   training_set: str) -> None:
    import polars as pl

    train(ml_platform, training_set, **FAST)
    champion = load_champion(ml_platform)
    rows = make_set(40, seed=3)
    expected = champion.predict(rows)
    reader = pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches(max_chunksize=7))
    assert np.allclose(champion.predict(reader), expected)
    assert np.allclose(champion.predict(rows.to_pandas()), expected)
    assert np.allclose(champion.predict(pl.from_arrow(rows)), expected)
    with pytest.raises(TrainingError, match="feature column\\(s\\) 'plan' are missing"):
        champion.predict(rows.drop_columns(["plan"]))


def test_an_export_in_the_landing_zone_keeps_its_lineage_and_definition(
        ml_platform: Platform, tmp_path) -> None:
    """As the reference: train from the exported files; the export's manifest names the
    dataset, so the card still carries its snapshot and feature definition for scoring."""
    export = pytest.importorskip("distillery.flows.export",
                                 reason="the export dataflow (flows/) is not installed")
    definition = {"label": "label", "identity_column": "userid", "horizon_seconds": 1209600}
    ml_platform.lake.write("exported_set", make_set(2000),
                           tags={"feature_definition": json.dumps(definition)})
    landing = (tmp_path / "landing" / "cmle" / "egress").as_uri()
    done = export.export_dataset(ml_platform, "exported_set", landing, run_id="t1",
                                 export_time="20250301000000", rows_per_file=700)
    # A later export that never finished (no _SUCCESS) must not be read.
    unfinished = tmp_path / "landing" / "cmle" / "egress" / done.dataset_id / \
        "exportTime=20250302000000"
    unfinished.mkdir()
    import pyarrow.parquet as pq

    pq.write_table(make_set(10), unfinished / "part-00000.parquet")
    result = train(ml_platform, f"{landing}/{done.dataset_id}", **FAST)
    source = result.card["training_set"]
    assert (source["kind"], source["export_time"], source["rows"]) == ("files",
                                                                       "20250301000000", 2000)
    assert source["files"] == 3 and source["dataset_id"] == done.dataset_id
    assert result.card["feature_definition"] == definition


def test_a_c9_label_on_a_used_field_refuses_training_and_registers_nothing(
        ml_platform: Platform, training_set: str) -> None:
    from distillery.lake import labels
    from distillery.lake.labels import GovernanceError

    labels.add_labels(ml_platform, training_set, ["C9"], field="plan")
    with pytest.raises(GovernanceError, match="C9") as refused:
        train(ml_platform, training_set, **FAST)
    assert (refused.value.field, refused.value.dataset) == ("plan", training_set)
    assert models(ml_platform) == []
    # A C9 column left out of the features does not stop training.
    assert train(ml_platform, training_set, exclude=["plan"], **FAST).version == 1
    labels.add_labels(ml_platform, training_set, ["C9"])  # on the whole dataset
    with pytest.raises(GovernanceError, match="C9"):
        train(ml_platform, training_set, exclude=["plan"], **FAST)
