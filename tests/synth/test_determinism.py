"""The same seed, users and as-of give identical rows whatever the batch size or first user."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from distillery.synth import simulate
from tests.synth.conftest import AS_OF

TABLES = ("events", "profiles", "truth_events", "truth_users")


def tables(users: int, seed: int = 3, **options: Any) -> dict[str, pa.Table]:
    batches = list(simulate(users, seed, as_of=options.pop("as_of", AS_OF), **options))
    return {name: pa.concat_tables([getattr(b, name) for b in batches]) for name in TABLES}


@pytest.fixture(scope="module")
def baseline() -> dict[str, pa.Table]:
    return tables(12_000)


@pytest.mark.parametrize("batch_users", [1_000, 3_333, 50_000])
def test_identical_whatever_the_batch_size(baseline: dict[str, pa.Table],
                                           batch_users: int) -> None:
    again = tables(12_000, batch_users=batch_users)
    for name in TABLES:
        assert again[name].equals(baseline[name]), name


def test_batches_have_the_requested_size() -> None:
    sizes = [b.truth_users.num_rows for b in simulate(2_500, 3, as_of=AS_OF, batch_users=700)]
    assert sizes == [700, 700, 700, 400]
    indexes = [b.index for b in simulate(2_500, 3, as_of=AS_OF, batch_users=1_000)]
    assert indexes == [0, 1, 2]


def test_a_later_first_user_continues_the_same_population(
        baseline: dict[str, pa.Table]) -> None:
    part = tables(2_500, first_user=9_000)
    users = baseline["truth_users"]
    expected = users.slice(9_000, 2_500)
    assert part["truth_users"].equals(expected)
    events = baseline["events"]
    userid = events["_tenant"].combine_chunks().field("userid")
    mine = events.filter(pc.is_in(userid, value_set=expected["userid"]))
    assert part["events"].equals(mine)


def test_another_seed_gives_other_rows(baseline: dict[str, pa.Table]) -> None:
    other = tables(12_000, seed=4)
    assert not other["truth_events"].equals(baseline["truth_events"])
    # Identities do not depend on the seed: they are the reference's function of the index.
    assert other["truth_users"]["userid"].equals(baseline["truth_users"]["userid"])


def test_as_of_only_shifts_time(baseline: dict[str, pa.Table]) -> None:
    later = tables(12_000, as_of=AS_OF + timedelta(days=3))
    shift = pa.scalar(timedelta(days=3))
    assert pc.all(pc.equal(later["truth_events"]["timestamp"],
                           pc.add(baseline["truth_events"]["timestamp"], shift))).as_py()
    assert later["truth_events"]["_id"].equals(baseline["truth_events"]["_id"])


def test_event_ids_are_unique_uuid4(baseline: dict[str, pa.Table]) -> None:
    ids = baseline["events"]["_id"]
    assert pc.count_distinct(ids).as_py() == len(ids)
    assert pc.all(pc.match_substring_regex(
        ids, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")).as_py()
