"""A small sandbox that went round the whole loop once through the public API, then scored
and evaluated again (so audiences have membership changes), built once per test process.

Generate -> EDA-ready events -> point-in-time and reference training sets -> export ->
train (one trial) -> score as CSV through the ingress folder -> unified profiles ->
audience evaluated -> activated to a folder -> re-scored two weeks later -> evaluated and
activated again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distillery import Platform

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
USERS = 3000
RULE = "_{tenant}.decile >= 9"


def run_loop(home: Path) -> None:
    """Every step of the workflow, once, then audiences a second time."""
    from distillery import profiles, scoring
    from distillery.audiences import Audiences
    from distillery.destinations import Destinations, activate
    from distillery.features import build_reference_training_set, build_training_set
    from distillery.flows.dataflows import Dataflows
    from distillery.ml import train
    from distillery.synth import generate

    with Platform.open(home) as p:
        generate(p, USERS, seed=3, as_of=AS_OF, batch_users=USERS)
        build_training_set(p, "experience_events", "training",
                           [AS_OF - timedelta(days=42)], horizon="14d")
        build_reference_training_set(p, "experience_events", "reference_training")
        Dataflows(p).export("training", str(p.root / "landing" / "cmle" / "egress"))
        train(p, "training", trials=1, folds=2, shap=False)
        scoring.score(p, as_of=AS_OF - timedelta(days=14), deliver="csv")
        profiles.refresh(p)
        audiences = Audiences(p)
        audiences.create("top_two_deciles", RULE, ttl_days=30)
        audiences.evaluate("top_two_deciles")
        Destinations(p).create("crm_drop", "files", url=str(home / "out"),
                               export_mode="incremental")
        activate(p, "top_two_deciles", to="crm_drop")
        scoring.score(p, as_of=AS_OF)
        profiles.refresh(p)
        audiences.evaluate("top_two_deciles")
        activate(p, "top_two_deciles", to="crm_drop")


@pytest.fixture(scope="session")
def loop_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of a sandbox that went round the loop (read only in tests)."""
    home = tmp_path_factory.mktemp("report-loop") / "home"
    run_loop(home)
    return home
