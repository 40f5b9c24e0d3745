"""Automatic preparation of features, as scikit-learn steps that travel with the model.

The same steps run at training and at scoring, so a model accepts the frame `compute_features`
gives it (Arrow or pandas, extra columns ignored, integer columns with nulls, ...). As in Data
Distiller's automatic preparation, a missing category becomes 'ml_unknown'; numeric nulls are
left to the trees (which route them) and set to the mean for linear models, with an indicator
so the model still sees that the value was missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from distillery.ml.columns import BOOLEAN, CATEGORICAL, NUMERIC
from distillery.ml.errors import TrainingError

UNKNOWN = "ml_unknown"
LINEAR, TREE, TREE_CODES = "linear", "tree", "tree_codes"
# HistGradientBoosting accepts at most 255 bins, one of them for missing values.
_MAX_CATEGORIES = 254


def to_frame(data: Any, kinds: dict[str, str]) -> pd.DataFrame:
    """The feature columns of `data` (Arrow table, record batch or reader, pandas or polars
    frame) as a pandas frame with one dtype per kind: float64 for numbers and booleans, object
    text for categories."""
    source = _source(data, list(kinds))
    return pd.DataFrame({column: _column(source, column, kind)
                         for column, kind in kinds.items()})


def to_matrix(data: Any, kinds: dict[str, str]) -> np.ndarray:
    """The feature columns of `data` as one 2-D float64 array (rows x features, in the order
    of `kinds`), with exactly the values `to_frame` gives them: the input of a model whose
    preparation passes numbers through (trees), without a pandas frame in between.

    Column-major, so each column is one contiguous copy; LightGBM reads either layout.

    Raises:
        TrainingError: a feature column is missing, or a feature is categorical.
    """
    source = _numeric_source(data, kinds)
    out = np.empty((_rows(source), len(kinds)), dtype=np.float64, order="F")
    # One column at a time: never more than one column's temporary copy alive.
    for j, (column, kind) in enumerate(kinds.items()):
        out[:, j] = _matrix_column(source, column, kind)
    return out


def row_blocks(data: Any, kinds: dict[str, str], rows: int = 16_384) -> Iterator[np.ndarray]:
    """The rows of `to_matrix(data, kinds)` as row-major blocks of at most `rows` rows, for
    readers that take rows (compiled trees). One block buffer is reused, small enough to stay
    in cache while it is filled: use each block before asking for the next.

    Raises:
        TrainingError: as `to_matrix`.
    """
    source = _numeric_source(data, kinds)
    total = _rows(source)
    columns = [_matrix_column(source, column, kind) for column, kind in kinds.items()]
    buffer = np.empty((min(rows, total), len(kinds)), dtype=np.float64)
    for start in range(0, total, rows):
        block = buffer[: min(rows, total - start)]
        for j, values in enumerate(columns):
            block[:, j] = values[start:start + len(block)]
        yield block


def _numeric_source(data: Any, kinds: dict[str, str]) -> pa.Table | pa.RecordBatch | pd.DataFrame:
    text = [c for c, k in kinds.items() if k == CATEGORICAL]
    if text:
        raise TrainingError(f"categorical feature(s) {text[:5]} have no numeric matrix form")
    return _source(data, list(kinds))


def _matrix_column(source: pa.Table | pa.RecordBatch | pd.DataFrame, column: str, kind: str
                   ) -> np.ndarray:
    """A column for `to_matrix`: numbers may keep their own dtype, since the copy into the
    float64 matrix converts them (as `_column` would: round to nearest, True = 1.0)."""
    if isinstance(source, pa.Table | pa.RecordBatch) and _plain_number(source.schema.field(
            column).type):
        return _numbers(source.column(column))
    return _column(source, column, kind)


def _source(data: Any, columns: list[str]) -> pa.Table | pa.RecordBatch | pd.DataFrame:
    """`data` as an Arrow table or batch, else a pandas frame, holding every column."""
    if isinstance(data, pa.RecordBatchReader):
        data = data.read_all()
    if isinstance(data, pa.Table | pa.RecordBatch):
        names = data.column_names
    else:
        if hasattr(data, "to_pandas") and not isinstance(data, pd.DataFrame):
            data = data.to_pandas()
        if not isinstance(data, pd.DataFrame):
            data = pd.DataFrame(data)
        names = list(data.columns)
    missing = [c for c in columns if c not in names]
    if missing:
        raise TrainingError(f"the model's feature column(s) {', '.join(map(repr, missing))} "
                            "are missing from its input")
    return data


def _rows(source: pa.Table | pa.RecordBatch | pd.DataFrame) -> int:
    return source.num_rows if isinstance(source, pa.Table | pa.RecordBatch) else len(source)


def _column(source: pa.Table | pa.RecordBatch | pd.DataFrame, column: str, kind: str
            ) -> np.ndarray:
    """One feature column as NumPy: the single place a value gets its model dtype."""
    if isinstance(source, pd.DataFrame):
        return _coerce(source[column], kind)
    values = source.column(column)
    if kind != CATEGORICAL and _plain_number(values.type):
        return _numbers(values).astype(np.float64, copy=False)
    return _coerce(values.to_pandas(), kind)


def _numbers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column as NumPy without a pandas Series: its own dtype when it has no
    NULL (no copy for numbers), else float64 with NaN for NULL. Converting integers and
    booleans to float64 later rounds to nearest and maps True to 1.0, as pandas does."""
    if values.null_count or pa.types.is_null(values.type):
        values = pc.fill_null(pc.cast(values, pa.float64()), np.nan)
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _coerce(values: pd.Series, kind: str) -> np.ndarray:
    if kind == CATEGORICAL:
        text = values.astype(object)
        return np.where(pd.isna(text), UNKNOWN, text.astype(str)).astype(object)
    if kind == BOOLEAN and values.dtype == object:
        lowered = values.astype(str).str.lower()
        values = lowered.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0})
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _plain_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_null(kind))


class Coerce(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """First step of every model: select the feature columns and give each its dtype."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds

    def fit(self, X: Any, y: Any = None) -> Coerce:
        self.feature_names_in_ = np.asarray(list(self.kinds), dtype=object)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        return to_frame(X, self.kinds)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(list(self.kinds), dtype=object)


class ToCategory(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Categories as a pandas categorical with the categories seen in training (the most
    frequent ones), so LightGBM, XGBoost and HistGradientBoosting split on them natively; a
    category not seen in training becomes missing."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> ToCategory:
        self.categories_ = {c: X[c].value_counts().index[:_MAX_CATEGORIES].tolist()
                            for c in X.columns}
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Categorical(X[c], categories=cats)
                             for c, cats in self.categories_.items()}, index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(list(self.categories_), dtype=object)


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log(1 + |x|) with x's sign: tames long-tailed counts and durations for linear models."""
    return np.sign(x) * np.log1p(np.abs(x))


def preparation(kinds: dict[str, str], flavour: str, *, log_numeric: bool = True
                ) -> ColumnTransformer:
    """The column transformer for one family of models.

    Args:
        kinds: Feature kinds, in input order.
        flavour: "linear" (impute, scale, one-hot), "tree" (native categories) or
            "tree_codes" (categories as integer codes, for random forests).
        log_numeric: For linear models, take signed log1p of numbers before scaling.
    """
    numbers = [c for c, k in kinds.items() if k in (NUMERIC, BOOLEAN)]
    categories = [c for c, k in kinds.items() if k == CATEGORICAL]
    if flavour == LINEAR:
        steps = [("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one"))] \
            if log_numeric else []
        numeric: Any = Pipeline([*steps, ("impute", SimpleImputer(strategy="mean",
                                                                  add_indicator=True,
                                                                  keep_empty_features=True)),
                                 ("scale", StandardScaler())])
        categorical: Any = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=32,
                                         sparse_output=False)
    elif flavour == TREE:
        numeric, categorical = "passthrough", ToCategory()
    elif flavour == TREE_CODES:
        numeric = "passthrough"
        categorical = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                     max_categories=_MAX_CATEGORIES)
    else:
        raise ValueError(f"unknown preparation flavour {flavour!r}")
    parts = [("numbers", numeric, numbers)] if numbers else []
    parts += [("categories", categorical, categories)] if categories else []
    return ColumnTransformer(parts, verbose_feature_names_out=False).set_output(
        transform="pandas")


def pipeline(kinds: dict[str, str], flavour: str, estimator: Any, *,
             log_numeric: bool = True) -> Pipeline:
    """The whole model: coerce the input, prepare it, then the estimator."""
    return Pipeline([("coerce", Coerce(kinds)),
                     ("prepare", preparation(kinds, flavour, log_numeric=log_numeric)),
                     ("model", estimator)])
