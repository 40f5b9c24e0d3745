"""The model registry: MLflow tracking and registry in a SQLite file under the sandbox.

    {sandbox}/models/mlflow.db      runs, metrics, params, registered models, versions, aliases
    {sandbox}/models/artifacts/     plots, model cards, the pyfunc models

A training is one run; its model becomes a new version of a registered model and, when
promoted, the `champion` alias (`models:/propensity@champion`) points at it. Registration is the
last step of a training and is undone if it fails half-way, so a failed training never leaves a
version behind or moves the alias. MLflow never reaches the network here: telemetry is off and
every URI is a local file.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.ml import offline
from distillery.ml.errors import ModelNotFoundError
from distillery.ml.options import CHAMPION

_QUIET = ("mlflow", "alembic")
CARD_FILE = "model_card.json"
# MLflow keeps tag values up to this length; longer card parts stay in the card artifact.
_TAG_LIMIT = 5000


@dataclass
class LoadedModel:
    """A registered model version, loaded.

    Attributes:
        name: Registered model name.
        version: Version number.
        run_id: The training run.
        model: The fitted `CalibratedModel` (`probability(frame)`; `features` in input order).
        card: The model card (feature definition, feature columns, metrics, calibration, ...).
        uri: The MLflow model URI (`models:/name/version`).
        pyfunc: The MLflow pyfunc model (schema-checked predict).
    """

    name: str
    version: int
    run_id: str
    model: Any
    card: dict[str, Any]
    uri: str
    pyfunc: Any

    @property
    def features(self) -> list[str]:
        """Feature columns in the model's input order."""
        return list(self.card["features"])

    def predict(self, data: Any) -> Any:
        """Calibrated probability per row of `data` (Arrow, pandas or polars)."""
        return self.model.probability(data)


class Registry:
    """MLflow tracking and registry of one sandbox."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "models"
        self.uri = f"sqlite:///{self.folder / 'mlflow.db'}"
        self.artifacts = (self.folder / "artifacts").as_uri()

    @classmethod
    def of(cls, platform: Any) -> Registry:
        """The registry of a platform's sandbox."""
        return cls(platform.root)

    @contextmanager
    def client(self) -> Iterator[Any]:
        """An MlflowClient on this registry, with the fluent API pointed here meanwhile."""
        offline.ensure()
        import mlflow
        from mlflow import MlflowClient

        self.folder.mkdir(parents=True, exist_ok=True)
        before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        levels = {n: logging.getLogger(n).level for n in _QUIET}
        for name in _QUIET:
            logging.getLogger(name).setLevel(logging.ERROR)
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        try:
            yield MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        finally:
            mlflow.set_tracking_uri(before[0])
            mlflow.set_registry_uri(before[1])
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)

    # Writing ---------------------------------------------------------------------------------

    def log(self, trained: Any, *, promote: bool) -> tuple[str, int]:
        """Record a training as a run and register its model as a new version.

        Args:
            trained: A `training.Trained` (model, card, metrics, params, plots, example).
            promote: Point the champion alias at the new version.

        Returns:
            (run id, version).
        """
        with self.client() as client:
            name = trained.card["name"]
            run = client.create_run(self._experiment(client, name),
                                    start_time=int(trained.started * 1000),
                                    run_name=f"{name}-{trained.card['model']['family']}",
                                    tags={"distillery.model": name})
            run_id = run.info.run_id
            version, created = None, False
            try:
                self._log_run(client, run_id, trained)
                info = self._log_model(run_id, trained)
                created = self._ensure_registered(client, name)
                version = int(client.create_model_version(
                    name, source=info.model_uri, run_id=run_id, tags=_version_tags(trained.card),
                    description=trained.description, model_id=info.model_id).version)
                if promote:
                    client.set_registered_model_alias(name, CHAMPION, str(version))
            except BaseException:
                # Undo in reverse, so a failed training leaves no version and no new model.
                if version is not None:
                    client.delete_model_version(name, str(version))
                if created:
                    client.delete_registered_model(name)
                client.set_terminated(run_id, "FAILED")
                raise
            client.set_terminated(run_id, "FINISHED", int(time.time() * 1000))
        return run_id, version

    def _experiment(self, client: Any, name: str) -> str:
        existing = client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        return client.create_experiment(name, artifact_location=f"{self.artifacts}/{name}")

    def _log_run(self, client: Any, run_id: str, trained: Any) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in trained.metrics.items()
                   if isinstance(v, int | float)]
        params = [Param(k, json.dumps(v) if not isinstance(v, str) else v)
                  for k, v in trained.params.items()]
        client.log_batch(run_id, metrics=metrics, params=params)
        for k, value in enumerate(trained.card["cross_validation"]["roc_auc_folds"]):
            client.log_metric(run_id, "cv_roc_auc_fold", value, timestamp=now, step=k)
        if trained.plots is not None:
            client.log_artifacts(run_id, str(trained.plots), "plots")
        client.log_dict(run_id, trained.card, CARD_FILE)

    def _log_model(self, run_id: str, trained: Any) -> Any:
        import joblib
        import mlflow

        from distillery.ml.pyfunc import CARD_ARTIFACT, MODEL_ARTIFACT, PropensityModel

        with tempfile.TemporaryDirectory(prefix="distillery-model-") as tmp:
            model_path, card_path = Path(tmp) / "model.joblib", Path(tmp) / CARD_FILE
            joblib.dump(trained.model, model_path)
            card_path.write_text(json.dumps(trained.card, indent=2, default=str))
            with mlflow.start_run(run_id=run_id):
                return mlflow.pyfunc.log_model(
                    name="model", python_model=PropensityModel(),
                    artifacts={MODEL_ARTIFACT: str(model_path), CARD_ARTIFACT: str(card_path)},
                    signature=trained.signature, input_example=trained.example,
                    pip_requirements=trained.requirements)

    def _ensure_registered(self, client: Any, name: str) -> bool:
        """Create the registered model if needed; True when this call created it."""
        from mlflow.exceptions import MlflowException

        try:
            client.get_registered_model(name)
            return False
        except MlflowException:
            client.create_registered_model(name, description="Distillery propensity model")
            return True

    # Reading ---------------------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """Every version of every registered model, newest first within a model."""
        if not (self.folder / "mlflow.db").exists():
            return []
        with self.client() as client:
            out = []
            for rm in client.search_registered_models(max_results=1000):
                aliases = _aliases_by_version(rm)
                for mv in client.search_model_versions(f"name='{rm.name}'",
                                                       max_results=10_000):
                    out.append(_version_info(rm.name, mv, aliases.get(str(mv.version), [])))
        return sorted(out, key=lambda m: (m["name"], -m["version"]))

    def resolve(self, name: str, version: int | str | None = None) -> tuple[int, str]:
        """(version, run id) of `name` at a version number, an alias, or (None) the champion
        if there is one, else the latest version."""
        from mlflow.exceptions import MlflowException

        with self.client() as client:
            try:
                rm = client.get_registered_model(name)
            except MlflowException:
                raise ModelNotFoundError(f"model {name!r} is not registered in this sandbox "
                                         "(`distillery models` lists them)") from None
            try:
                mv = self._version(client, rm, version)
            except MlflowException:
                raise ModelNotFoundError(f"model {name!r} has no version or alias "
                                         f"{version!r}") from None
        return int(mv.version), mv.run_id

    def _version(self, client: Any, rm: Any, version: int | str | None) -> Any:
        if version is None:
            if CHAMPION in (rm.aliases or {}):
                return client.get_model_version_by_alias(rm.name, CHAMPION)
            latest = client.search_model_versions(f"name='{rm.name}'", max_results=1,
                                                  order_by=["version_number DESC"])
            if not latest:
                raise ModelNotFoundError(f"model {rm.name!r} has no version")
            return latest[0]
        if isinstance(version, int) or str(version).isdigit():
            return client.get_model_version(rm.name, str(version))
        return client.get_model_version_by_alias(rm.name, str(version))

    def load(self, name: str, version: int | str | None = None) -> LoadedModel:
        """Load a version (number or alias; default: the champion, else the latest)."""
        number, run_id = self.resolve(name, version)
        uri = f"models:/{name}/{number}"
        with self.client():
            import mlflow

            pyfunc = mlflow.pyfunc.load_model(uri)
        wrapper = pyfunc.unwrap_python_model()
        return LoadedModel(name=name, version=number, run_id=run_id, model=wrapper.model,
                           card=wrapper.card, uri=uri, pyfunc=pyfunc)

    # Removing --------------------------------------------------------------------------------

    def drop(self, name: str, version: int | None = None, *, if_exists: bool = False
             ) -> list[int]:
        """Delete a registered model (every version) or one version; return the versions
        deleted."""
        from mlflow.exceptions import MlflowException

        with self.client() as client:
            try:
                rm = client.get_registered_model(name)
            except MlflowException:
                if if_exists:
                    return []
                raise ModelNotFoundError(f"model {name!r} is not registered in this sandbox"
                                         ) from None
            if version is None:
                versions = [int(v.version) for v in
                            client.search_model_versions(f"name='{name}'", max_results=10_000)]
                client.delete_registered_model(rm.name)
                return sorted(versions)
            try:
                client.get_model_version(name, str(version))
            except MlflowException:
                if if_exists:
                    return []
                raise ModelNotFoundError(f"model {name!r} has no version {version}") from None
            client.delete_model_version(name, str(version))
            return [int(version)]

    def set_alias(self, name: str, version: int, alias: str = CHAMPION) -> None:
        """Point `alias` at a version."""
        self.resolve(name, version)
        with self.client() as client:
            client.set_registered_model_alias(name, alias, str(version))


def _aliases_by_version(rm: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for alias, version in (rm.aliases or {}).items():
        out.setdefault(str(version), []).append(alias)
    return out


def _version_info(name: str, mv: Any, aliases: list[str]) -> dict[str, Any]:
    tags = mv.tags or {}
    return {
        "name": name, "version": int(mv.version), "aliases": sorted(aliases),
        "family": tags.get("family"), "dataset": tags.get("training_set"),
        "snapshot": tags.get("training_snapshot"),
        "roc_auc": _float(tags.get("roc_auc")), "ece": _float(tags.get("ece")),
        "calibration": tags.get("calibration"), "run_id": mv.run_id,
        "created_at": _iso(mv.creation_timestamp),
    }


def _version_tags(card: dict[str, Any]) -> dict[str, str]:
    source = card["training_set"]
    metrics = card["metrics"]
    tags = {
        "family": card["model"]["family"], "training_set": source["name"],
        "training_snapshot": str(source.get("snapshot")), "label": card["label"],
        "roc_auc": f"{metrics['roc_auc']:.6f}", "ece": f"{metrics['ece']:.6f}",
        "calibration": card["calibration"]["method"],
        "negative_rate": str(card["sampling"]["negative_rate"]),
        "features": json.dumps(card["features"]),
    }
    return {k: v for k, v in tags.items() if len(v) <= _TAG_LIMIT}


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "", "None") else None


def _iso(millis: int | None) -> str | None:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(millis / 1000, UTC).isoformat() if millis else None
