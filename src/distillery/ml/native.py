"""Boosted trees compiled to native code, for scoring millions of people.

LightGBM's `predict` walks every tree with one generic loop. Treelite reads the same booster,
TL2cgen writes its trees out as C (one branch per split, thresholds inlined) and the machine's
C compiler builds a shared library that predicts the same numbers about four times faster
(bench/score.py). The library is built once per model and kept with the registry:

    {sandbox}/models/native/{digest}/    the booster's text, the generated C, the library

where `digest` hashes the booster's text, the code generator's version and the compiler flags,
so a retrained model or a new TL2cgen gets its own library and two processes never need each
other's. A build goes to a temporary folder beside it and is renamed into place whole.

Before a library is used it must reproduce the booster on probe rows made of every split's
threshold, values either side of it, zero and missing values; a library that differs, or a
machine without a C compiler, leaves scoring on the booster (and says why in the log). The
result is identical either way: only the speed differs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from distillery.ml.parallel import cores

log = logging.getLogger(__name__)

# -O1 builds in about half the time of -O3 and predicts as fast: the code is all branches.
FLAGS = ("-O1",)
# Largest difference to the booster a library may show on the probe rows.
TOLERANCE = 1e-12
_PROBE_ROWS = 4096
_BLOCK_ROWS = 16_384


class NativeTrees:
    """A compiled booster: `predict(matrix, threads)` gives what `booster.predict` gives.

    Attributes:
        library: The shared library.
        features: Number of input columns.
    """

    def __init__(self, library: Path, features: int) -> None:
        self.library = library
        self.features = features
        # A TL2cgen predictor runs one batch at a time: each thread gets its own.
        self._local = threading.local()

    def predict(self, rows: np.ndarray | Iterable[np.ndarray], threads: int = 1) -> np.ndarray:
        """P(positive) per row, as `booster.predict` gives it, of a 2-D float64 matrix (rows x
        features, model order) or of row blocks (`prepare.row_blocks`). Threads may call it
        side by side."""
        import tl2cgen

        blocks = _blocks(rows) if isinstance(rows, np.ndarray) else rows
        predictor = self._predictor(max(1, threads))
        out: list[np.ndarray] = []
        for block in blocks:
            if block.ndim != 2 or block.shape[1] != self.features:
                raise ValueError(f"the compiled model takes {self.features} feature columns, "
                                 f"got rows of shape {block.shape}")
            matrix = tl2cgen.DMatrix(np.ascontiguousarray(block, dtype=np.float64))
            out.append(np.asarray(predictor.predict(matrix), dtype=np.float64).reshape(-1))
        return np.concatenate(out) if out else np.empty(0)

    def _predictor(self, threads: int) -> Any:
        import tl2cgen

        predictors = self._local.__dict__.setdefault("predictors", {})
        if threads not in predictors:
            predictors[threads] = tl2cgen.Predictor(self.library, nthread=threads)
        return predictors[threads]


def _blocks(matrix: np.ndarray) -> Iterator[np.ndarray]:
    # TL2cgen copies its input: blocks of rows keep that copy small and in cache.
    for start in range(0, len(matrix), _BLOCK_ROWS):
        yield matrix[start:start + _BLOCK_ROWS]


def compile_booster(booster: Any, folder: Path) -> NativeTrees | None:
    """The booster compiled under `folder` (built on first use), or None when it cannot be:
    no C compiler, a model TL2cgen cannot translate, or a library that does not reproduce the
    booster. The reason is logged; callers keep predicting with the booster."""
    try:
        text = booster.model_to_string()
        target = folder / _digest(text)
        library = _library(target)
        if library is None:
            library = _build(text, target)
        trees = NativeTrees(library, booster.num_feature())
        difference = _difference(trees, booster)
    except Exception as exc:  # any failure only means: use the booster
        log.warning("scoring uses LightGBM's own predict: the trees could not be compiled "
                    "(%s: %s)", type(exc).__name__, exc)
        return None
    if difference > TOLERANCE:
        log.warning("scoring uses LightGBM's own predict: the compiled trees differ from it by "
                    "%.3g on probe rows", difference)
        return None
    return trees


def _digest(text: str) -> str:
    import tl2cgen

    key = "\n".join([tl2cgen.__version__, " ".join(FLAGS), text])
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _library(target: Path) -> Path | None:
    found = sorted(target.glob("*.so")) if target.is_dir() else []
    return found[0] if found else None


def _build(text: str, target: Path) -> Path:
    """Generate the C, compile it in a temporary folder beside `target`, rename into place."""
    import tl2cgen
    import treelite

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        (work / "model.txt").write_text(text)
        model = treelite.frontend.load_lightgbm_model(work / "model.txt")
        # TL2cgen prints its progress on stdout, where `--json` output goes.
        with contextlib.redirect_stdout(io.StringIO()):
            tl2cgen.generate_c_code(model, work, params={"parallel_comp": cores()})
            tl2cgen.create_shared("gcc", work, nthread=cores(), options=list(FLAGS),
                                  long_build_time_warning=False)
        try:
            work.rename(target)
        except OSError:  # another process published the same library first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    library = _library(target)
    if library is None:
        raise RuntimeError(f"no shared library in {target}")
    return library


def _difference(trees: NativeTrees, booster: Any) -> float:
    probe = _probe(booster)
    expected = np.asarray(booster.predict(probe, num_threads=1), dtype=np.float64)
    return float(np.max(np.abs(trees.predict(probe) - expected)))


def _probe(booster: Any) -> np.ndarray:
    """Rows whose values sit on, just below and just above the model's thresholds, with zeros
    and missing values: where a translation of the split rules would show a difference."""
    rng = np.random.default_rng(0)
    columns = booster.num_feature()
    pools: list[list[float]] = [[0.0, np.nan] for _ in range(columns)]
    for tree in booster.dump_model()["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                threshold = node["threshold"]
                if isinstance(threshold, int | float):
                    value = float(threshold)
                    pools[node["split_feature"]] += [value, np.nextafter(value, -np.inf),
                                                     np.nextafter(value, np.inf)]
                stack += [node["left_child"], node["right_child"]]
    probe = np.empty((_PROBE_ROWS, columns), dtype=np.float64)
    for j, pool in enumerate(pools):
        probe[:, j] = rng.choice(np.asarray(pool, dtype=np.float64), _PROBE_ROWS)
    return probe
