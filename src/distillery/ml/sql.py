"""Data Distiller's model statements in the Query Service, on the same training code and
registry as `distillery train`:

    CREATE [OR REPLACE] MODEL [IF NOT EXISTS] m [TRANSFORM (...)] OPTIONS (...) AS SELECT ...
    UPDATE MODEL m [TRANSFORM (...)] [OPTIONS (...)] AS SELECT ...     (a new version)
    SELECT * FROM model_evaluate(m, version, SELECT ...)   (auc_roc, accuracy, precision, recall)
    SELECT * FROM model_predict(m, version, SELECT ...)    (input columns, prediction, probability)
    SHOW MODELS
    DROP MODEL [IF EXISTS] m [version]

CREATE OR REPLACE trains a new version and retires the previous latest one; UPDATE keeps it.
The version in model_evaluate/model_predict is a number or an alias ('champion'); left out, it
is the champion (else the latest). Without TRANSFORM, preparation is automatic (numeric nulls to
the mean for linear models, categories indexed, unknown to 'ml_unknown'); with it, the
feature columns are those its vector_assembler lists (see `_features_from_transform`).
`install(service, platform)` registers the statements (the platform wires it through
SQL_EXTENSIONS).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from distillery.errors import AlreadyExistsError
from distillery.ml.errors import ModelNotFoundError, ModelOptionError
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.platform import Platform
    from distillery.sql.service import QueryService, Session

_NAME = r"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)"
CREATE = (r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?MODEL\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?"
          + _NAME + r"\s*(?P<rest>.*?)\s*$")
UPDATE = r"^\s*UPDATE\s+MODEL\s+" + _NAME + r"\s*(?P<rest>.*?)\s*$"
DROP = (r"^\s*DROP\s+MODEL\s+(?P<ie>IF\s+EXISTS\s+)?" + _NAME
        + r"(?:\s+(?:VERSION\s+)?(?P<version>\d+))?\s*$")
SHOW = r"^\s*SHOW\s+MODELS\s*$"
_CALL = (r"^\s*SELECT\s+\*\s+FROM\s+model_{fn}\s*\(\s*" + _NAME
         + r"\s*,\s*(?:(?P<version>\d+|'[^']*'|\"[^\"]*\"|[A-Za-z_]\w*)\s*,\s*)?"
         r"(?P<query>.+)\)\s*$")
EVALUATE = _CALL.format(fn="evaluate")
PREDICT = _CALL.format(fn="predict")


def install(service: QueryService, platform: Platform) -> None:
    """Register the model statements with a Query Service."""
    handlers = _Handlers(platform)
    service.register_statement(CREATE, handlers.create)
    service.register_statement(UPDATE, handlers.update)
    service.register_statement(DROP, handlers.drop)
    service.register_statement(SHOW, handlers.show, writes=False)
    service.register_statement(EVALUATE, handlers.evaluate, writes=False)
    service.register_statement(PREDICT, handlers.predict, writes=False)


class _Handlers:
    """One handler per statement; each parses, calls the library, returns a Result."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @property
    def registry(self) -> Any:
        from distillery.ml.registry import Registry

        return Registry.of(self.platform)

    def _exists(self, name: str) -> bool:
        try:
            self.registry.resolve(name)
        except ModelNotFoundError:
            return False
        return True

    def create(self, svc: QueryService, session: Session, m: re.Match[str],
               params: dict[str, Any] | None) -> Result:
        name = m.group("name")
        if self._exists(name):
            if m.group("ine"):
                return Result.message("CREATE MODEL")
            if not m.group("replace"):
                raise AlreadyExistsError(f"model {name!r} exists already: use CREATE OR "
                                         "REPLACE MODEL, or UPDATE MODEL for a new version")
        previous = self.registry.resolve(name)[0] if m.group("replace") and \
            self._exists(name) else None
        result = self._train(svc, session, name, m.group("rest"), params, {})
        if previous is not None and previous != result.version:
            self.registry.drop(name, previous)
        return _trained(result, "CREATE MODEL")

    def update(self, svc: QueryService, session: Session, m: re.Match[str],
               params: dict[str, Any] | None) -> Result:
        name = m.group("name")
        loaded = self.registry.load(name)
        earlier = loaded.card.get("sql_options") or {}
        result = self._train(svc, session, name, m.group("rest"), params, earlier)
        return _trained(result, "UPDATE MODEL")

    def _train(self, svc: QueryService, session: Session, name: str, rest: str,
               params: dict[str, Any] | None, earlier: dict[str, Any]) -> Any:
        # Imported here: installing the statements must not load scikit-learn for every query.
        from distillery.ml import sqloptions
        from distillery.ml.data import QueryRows
        from distillery.ml.training import train

        transform, options_text, query = split_clauses(rest, name)
        options = {**earlier, **sqloptions.parse_options(options_text or "", name)}
        label = str(options.get("label", "label"))
        sqloptions.check_label_leak(query, label)
        table = svc.query(query, params, session).arrow()
        kwargs = sqloptions.train_options(options, name, table.num_rows)
        if transform is not None:
            kwargs["features"] = _features_from_transform(transform, name)
            kwargs["sql_transform"] = transform
        return train(self.platform, QueryRows(table, query), sql_options=options, **kwargs)

    def drop(self, svc: QueryService, session: Session, m: re.Match[str],
             params: dict[str, Any] | None) -> Result:
        version = int(m.group("version")) if m.group("version") else None
        self.registry.drop(m.group("name"), version, if_exists=bool(m.group("ie")))
        return Result.message("DROP MODEL")

    def show(self, svc: QueryService, session: Session, m: re.Match[str],
             params: dict[str, Any] | None) -> Result:
        rows = self.registry.models()
        schema = pa.schema([("model_name", pa.string()), ("model_version", pa.int64()),
                            ("aliases", pa.string()), ("model_type", pa.string()),
                            ("training_set", pa.string()), ("auc_roc", pa.float64()),
                            ("ece", pa.float64()), ("created", pa.string())])
        return Result.of(pa.Table.from_pylist([
            {"model_name": r["name"], "model_version": r["version"],
             "aliases": ",".join(r["aliases"]), "model_type": r["family"],
             "training_set": r["dataset"], "auc_roc": r["roc_auc"], "ece": r["ece"],
             "created": r["created_at"]} for r in rows], schema=schema))

    def evaluate(self, svc: QueryService, session: Session, m: re.Match[str],
                 params: dict[str, Any] | None) -> Result:
        from distillery.ml import metrics
        from distillery.ml.columns import binary_label

        loaded, table = self._scored_input(svc, session, m, params)
        label = loaded.card["label"]
        if label not in table.column_names:
            raise ModelOptionError(f"model_evaluate: the query has no label column {label!r} "
                                   f"(model {loaded.name!r} was trained on it)")
        y, valid, _ = binary_label(table[label], label)
        p = loaded.predict(table)[valid]
        out = metrics.summary(y, p, loaded.card["threshold"]["value"])
        row = {"auc_roc": out["roc_auc"], "accuracy": out["accuracy"],
               "precision": out["precision"], "recall": out["recall"], "f1": out["f1"],
               "log_loss": out["log_loss"], "brier": out["brier"], "ece": out["ece"],
               "rows": len(y), "model_version": loaded.version}
        return Result.of(pa.Table.from_pylist([row]), status="SELECT 1")

    def predict(self, svc: QueryService, session: Session, m: re.Match[str],
                params: dict[str, Any] | None) -> Result:
        loaded, table = self._scored_input(svc, session, m, params)
        p = loaded.predict(table)
        decided = (p >= loaded.card["threshold"]["value"]).astype(np.int32)
        out = table.append_column("prediction", pa.array(decided)).append_column(
            "probability", pa.array(p))
        return Result.of(out)

    def _scored_input(self, svc: QueryService, session: Session, m: re.Match[str],
                      params: dict[str, Any] | None) -> tuple[Any, pa.Table]:
        version = m.group("version")
        if version is not None:
            version = version.strip("'\"")
        loaded = self.registry.load(m.group("name"), version)
        query = m.group("query").strip()
        if query.startswith("(") and query.endswith(")"):
            query = query[1:-1]
        return loaded, svc.query(query, params, session).arrow()


def _trained(result: Any, status: str) -> Result:
    row = {"model_name": result.name, "model_version": result.version,
           "run_id": result.run_id, "auc_roc": result.metrics["roc_auc"],
           "cv_auc_roc": result.metrics["cv_roc_auc_mean"], "ece": result.metrics["ece"]}
    return Result.of(pa.Table.from_pylist([row]), status=status)


def split_clauses(rest: str, name: str) -> tuple[str | None, str | None, str]:
    """(TRANSFORM body, OPTIONS body, query) of what follows the model name."""
    text = rest.strip()
    transform = options = None
    for keyword in ("TRANSFORM", "OPTIONS"):
        head = re.match(rf"{keyword}\s*\(", text, re.IGNORECASE)
        if head:
            end = _closing(text, head.end() - 1, name)
            body = text[head.end():end]
            text = text[end + 1:].lstrip()
            if keyword == "TRANSFORM":
                transform = body
            else:
                options = body
    query = re.match(r"AS\s+(?P<q>.+)$", text, re.IGNORECASE | re.DOTALL)
    if query is None:
        raise ModelOptionError(f"model {name!r}: expected AS SELECT ... after the model's "
                               f"clauses, got {text[:60]!r}")
    q = query.group("q").strip()
    if q.startswith("(") and q.endswith(")") and _closing(q, 0, name) == len(q) - 1:
        q = q[1:-1]
    return transform, options, q


def _closing(text: str, start: int, name: str) -> int:
    """Index of the parenthesis closing the one at `start` (quotes respected)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ModelOptionError(f"model {name!r}: unbalanced parentheses in {text[start:start + 60]!r}")


_ASSEMBLER = re.compile(r"vector_assembler\s*\(\s*array\s*\((?P<cols>[^)]*)\)\s*\)",
                        re.IGNORECASE)
# Preparation the automatic pipeline already does; TRANSFORM may name it.
_AUTOMATIC = ("numeric_imputer", "string_imputer", "boolean_imputer", "string_indexer",
              "one_hot_encoder", "standard_scaler", "min_max_scaler", "max_abs_scaler")


def _features_from_transform(text: str, name: str) -> list[str]:
    """The feature columns of a TRANSFORM clause: those its vector_assembler lists.

    Functions other than vector_assembler must be preparation the automatic pipeline does
    (imputers, indexers, encoders, scalers), applied to the source columns; others are refused.
    """
    calls = {c.lower() for c in re.findall(r"([A-Za-z_]\w*)\s*\(", text)} - {"array"}
    unknown = sorted(calls - {"vector_assembler", *_AUTOMATIC})
    if unknown:
        raise ModelOptionError(f"model {name!r}: TRANSFORM function(s) {', '.join(unknown)} "
                               f"are not supported (supported: vector_assembler, "
                               f"{', '.join(_AUTOMATIC)})")
    assembler = _ASSEMBLER.search(text)
    if assembler is None:
        raise ModelOptionError(f"model {name!r}: TRANSFORM must end with "
                               "vector_assembler(array(col, ...)) naming the features")
    sources = _sources(text)
    return [sources.get(c.strip().lower(), c.strip()) for c in assembler.group("cols").split(",")
            if c.strip()]


def _sources(text: str) -> dict[str, str]:
    """Alias -> source column for `fn(col, ...) alias` steps (an alias of an alias resolves)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*)[^)]*\)\s+(?:AS\s+)?"
                         r"([A-Za-z_]\w*)", text, re.IGNORECASE):
        if m.group(1).lower() in _AUTOMATIC:
            source = m.group(2)
            out[m.group(3).lower()] = out.get(source.lower(), source)
    return out
