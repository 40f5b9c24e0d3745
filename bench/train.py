"""Benchmark training on the reference scenario: quality, calibration, time and memory.

    python bench/train.py                       # 100,000 users, 50 trials, LightGBM
    python bench/train.py --users 20000 --trials 10 --home /tmp/bench-home   # reuse a home

Steps: generate the reference scenario (`distillery.synth.generate`), build the default
training set (`distillery.features.build_training_set`: cutoff 14 days before the window ends,
14-day horizon), then `distillery.ml.training` (Optuna search, 5-fold person cross-validation with
the logistic-regression baseline on the same folds, calibration, held-out evaluation, ground
truth, MLflow registration). If the training-set builder fails, a stand-in set with the same
features (per-type counts over 7/14/28 days and all history, recency) is built with DuckDB so
the model can still be measured, and the output says so.

Goals on 2 cores: fold-mean ROC AUC >= 0.78, above logistic regression; ECE <= 0.01; mean
prediction within 5% of the observed rate; 50 trials plus the final fit in <= 120 s.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
HORIZON = timedelta(days=14)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(platform: Any, users: int, seed: int) -> tuple[Any, float]:
    from distillery.synth import Window, generate

    if platform.catalog.find_dataset("experience_events") is not None:
        print("experience_events exists in this home: generation skipped")
        return Window.of(AS_OF), 0.0
    start = time.perf_counter()
    result = generate(platform, users, seed, as_of=AS_OF)
    seconds = time.perf_counter() - start
    print(f"generate       {users:>9,} users {result.events:>11,} events   {seconds:7.1f} s   "
          f"peak RSS {peak_rss_mb():6.0f} MiB")
    return Window.of(AS_OF), seconds


def build(platform: Any, cutoff: datetime) -> tuple[str, float, str]:
    """The default training set; the stand-in if the builder fails."""
    start = time.perf_counter()
    try:
        from distillery.features import build_training_set

        built = build_training_set(platform, "experience_events", "training_set", [cutoff],
                                   horizon="14d", replace=True)
        how, rows, positives = "features.build_training_set", built.rows, built.positives
        name = "training_set"
    except Exception as exc:  # the builder is another room's; measure the model anyway
        print(f"build_training_set failed ({type(exc).__name__}: {str(exc)[:120]}); "
              "using the stand-in training set")
        name, how = "standin_training_set", "stand-in (DuckDB)"
        rows, positives = standin(platform, name, cutoff)
    seconds = time.perf_counter() - start
    print(f"training set   {rows:>9,} rows {positives:>8,} positives ({positives / rows:.2%})  "
          f"{seconds:7.1f} s   [{how}]")
    return name, seconds, how


def standin(platform: Any, name: str, cutoff: datetime) -> tuple[int, int]:
    """Per-type counts over 7/14/28 days and all history plus recency, label in (T, T+H]."""
    import json

    import duckdb

    events = platform.query("SELECT _tenant.userid AS userid, eventType AS t, timestamp AS ts "
                            "FROM experience_events").arrow()
    con = duckdb.connect()
    con.register("ev", events)
    types = [r[0] for r in con.sql("SELECT DISTINCT t FROM ev WHERE t <> 'web.formFilledOut' "
                                   "ORDER BY 1").fetchall()]
    cols = []
    for t in types:
        slug = t.replace(".", "_")
        cols += [f"count(*) FILTER (WHERE t = '{t}' AND ts >= $T - INTERVAL {w} DAY) "
                 f"AS {slug}_{w}d" for w in (7, 14, 28)]
        cols += [f"count(*) FILTER (WHERE t = '{t}') AS {slug}_all",
                 f"date_diff('minute', max(ts) FILTER (WHERE t = '{t}'), $T) / 60.0 "
                 f"AS hours_since_{slug}"]
    sql = f"""
        WITH conv AS (SELECT userid, min(ts) AS first FROM ev WHERE t = 'web.formFilledOut'
                      GROUP BY 1),
             f AS (SELECT userid, {', '.join(cols)} FROM ev WHERE ts < $T GROUP BY userid)
        SELECT f.userid, $T AS cutoff, f.* EXCLUDE (userid),
               CAST(coalesce(c.first > $T AND c.first <= $E, false) AS INTEGER) AS label
        FROM f LEFT JOIN conv c USING (userid)
        WHERE c.first IS NULL OR c.first > $T ORDER BY f.userid"""
    table = con.sql(sql, params={"T": cutoff, "E": cutoff + HORIZON}).to_arrow_table()
    definition = {"label": "label", "identity_column": "userid",
                  "horizon_seconds": int(HORIZON.total_seconds()),
                  "cutoffs": [cutoff.isoformat()], "kind": "stand-in"}
    platform.lake.write(name, table, mode="overwrite",
                        tags={"feature_definition": json.dumps(definition)})
    return table.num_rows, int(sum(table["label"].to_pylist()))


def run_training(platform: Any, dataset: str, model: str, trials: int, seed: int) -> Any:
    from distillery.ml import train

    start = time.perf_counter()
    result = train(platform, dataset, model=model, trials=trials, seed=seed,
                   name=f"bench_{model}")
    total = time.perf_counter() - start
    report(model, result, total)
    return result


def report(model: str, result: Any, total: float) -> None:
    m, t, card = result.metrics, result.card["timings"], result.card
    search_and_fit = t["tuning"] + t["cross_validation_and_final_fit"]
    print(f"\n{model}: {card['tuning']['trials']} trials ({card['tuning']['pruned']} pruned), "
          f"calibration {card['calibration']['method']}")
    print(f"  5-fold person CV ROC AUC   {m['cv_roc_auc_mean']:.4f} ± {m['cv_roc_auc_std']:.4f}"
          f"  folds {', '.join(f'{a:.4f}' for a in card['cross_validation']['roc_auc_folds'])}")
    if "baseline_cv_roc_auc_mean" in m:
        print(f"  logreg baseline, same folds {m['baseline_cv_roc_auc_mean']:.4f} ± "
              f"{m['baseline_cv_roc_auc_std']:.4f}  "
              f"(gain {m['cv_roc_auc_gain_over_baseline']:+.4f})")
    print(f"  held-out ROC AUC {m['roc_auc']:.4f}  PR AUC {m['pr_auc']:.4f}  log loss "
          f"{m['log_loss']:.4f}  Brier {m['brier']:.4f}")
    print(f"  ECE {m['ece']:.4f} (equal-count {m['ece_adaptive']:.4f})  mean predicted "
          f"{m['mean_predicted']:.4f} vs observed {m['observed_rate']:.4f} "
          f"({m['calibration_in_the_large']:+.1%})")
    if "truth_clairvoyant_roc_auc" in m:
        print(f"  ground truth: latent AUC {m['truth_latent_roc_auc']:.4f}, clairvoyant "
              f"{m['truth_clairvoyant_roc_auc']:.4f}, model/clairvoyant "
              f"{m['roc_auc_to_clairvoyant']:.3f}")
    print(f"  time: search {t['tuning']:.1f} s + CV and final fit "
          f"{t['cross_validation_and_final_fit']:.1f} s = {search_and_fit:.1f} s; evaluation "
          f"{t['evaluation']:.1f} s; whole train() {total:.1f} s; peak RSS "
          f"{peak_rss_mb():.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--home", help="reuse this home (generation is skipped when its "
                        "events exist)")
    parser.add_argument("--logreg", action="store_true",
                        help="also train and register a tuned logistic regression")
    args = parser.parse_args()
    from distillery import Platform

    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        platform = Platform.open(args.home or tmp)
        window, _ = generate(platform, args.users, args.seed)
        name, _, _ = build(platform, window.end - timedelta(days=14))
        run_training(platform, name, "lightgbm", args.trials, args.seed)
        if args.logreg:
            run_training(platform, name, "logreg", min(args.trials, 20), args.seed)
        platform.close()


if __name__ == "__main__":
    main()
