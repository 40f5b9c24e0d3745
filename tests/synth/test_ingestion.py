"""`generate` writes the simulation through batch ingestion, idempotently."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.synth import generate, simulate
from distillery.synth.ingestion import GROUND_TRUTH_TAG
from tests.synth.conftest import AS_OF


def count(platform: Platform, table: str) -> int:
    return platform.query(f"SELECT count(*) FROM {table}").scalar()


def test_generate_writes_four_datasets(platform: Platform) -> None:
    seen: list[tuple[int, int]] = []
    result = generate(platform, 2_500, 9, as_of=AS_OF, batch_users=1_000,
                      progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    assert result.users == 2_500 and result.as_of == AS_OF
    batches = list(simulate(2_500, 9, as_of=AS_OF, batch_users=1_000))
    assert result.events == sum(b.events.num_rows for b in batches)
    assert result.converters == sum(b.converters for b in batches)
    ds = result.datasets
    assert count(platform, ds["events"].table_name) == result.events
    assert count(platform, ds["profiles"].table_name) == 2_500
    assert count(platform, ds["truth_events"].table_name) == result.events
    assert count(platform, ds["truth_users"].table_name) == 2_500
    assert all(len(d.batches) == 3 for d in ds.values())
    assert platform.dataset("experience_events").profile_enabled
    assert platform.dataset("profiles").profile_enabled
    truth_ds = platform.dataset("synthetic_ground_truth_events")
    assert truth_ds.tags.get(GROUND_TRUTH_TAG) and not truth_ds.profile_enabled
    converters = platform.query(
        "SELECT count(DISTINCT _tenant.userid) FROM experience_events "
        "WHERE eventType = 'web.formFilledOut'").scalar()
    assert converters == result.converters


def test_rerun_is_idempotent(platform: Platform) -> None:
    first = generate(platform, 1_500, 2, as_of=AS_OF, batch_users=1_000)
    again = generate(platform, 1_500, 2, as_of=AS_OF, batch_users=1_000)
    assert again.datasets["events"].batches == first.datasets["events"].batches
    assert count(platform, "experience_events") == first.events
    other = generate(platform, 1_500, 3, as_of=AS_OF, batch_users=1_000, truth=False)
    assert "truth_events" not in other.datasets
    assert count(platform, "experience_events") == first.events + other.events


@pytest.mark.parametrize("options", [
    {"users": 0}, {"seed": -1}, {"scenario": "chaos"}, {"batch_users": 0},
    {"opt_out_share": 1.5}, {"first_user": -3}, {"tenant": "bad tenant"},
])
def test_bad_arguments(options: dict) -> None:
    args = {"users": 10, "seed": 1, "as_of": AS_OF} | options
    with pytest.raises(ValueError):
        next(simulate(**args))
