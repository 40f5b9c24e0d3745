"""Merge policies: how fragments of one person become one profile, stored in the catalog.

- `timestampOrdered` (the default): per attribute, the value of the most recent fragment that has
  one wins. A fragment's time is its record's timestamp field, else its batch's commit time.
- `dataSetPrecedence`: per attribute, the value from the first dataset in the policy's list that
  has one wins (the most recent fragment within that dataset); datasets not listed are ignored.

One policy is the default; the migration creates `timestamp-ordered`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from distillery.errors import AlreadyExistsError, NotFoundError
from distillery.lake.catalog import Catalog, now_iso
from distillery.profiles.errors import MergePolicyError

TIMESTAMP_ORDERED = "timestampOrdered"
DATASET_PRECEDENCE = "dataSetPrecedence"
KINDS = (TIMESTAMP_ORDERED, DATASET_PRECEDENCE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_DATASETS = 4000  # the merge's order key holds the rank above 51 bits of time


@dataclass(frozen=True)
class MergePolicy:
    """A stored merge policy.

    Attributes:
        name: Its name.
        kind: "timestampOrdered" or "dataSetPrecedence".
        datasets: For dataSetPrecedence, dataset ids in precedence order (first wins).
        is_default: Whether profiles are merged with it.
        description: Free text.
    """

    name: str
    kind: str
    datasets: tuple[str, ...] = ()
    is_default: bool = False
    description: str = ""
    created_at: str = field(default="", compare=False)

    def fingerprint(self) -> str:
        """What decides the merge's result: a change means every profile is merged again."""
        return json.dumps({"name": self.name, "kind": self.kind, "datasets": self.datasets})


def list_policies(catalog: Catalog) -> list[MergePolicy]:
    """Every merge policy, the default first."""
    with catalog.connect() as con:
        rows = con.execute("SELECT * FROM merge_policies ORDER BY is_default DESC, name")
        return [_policy(r) for r in rows.fetchall()]


def get_policy(catalog: Catalog, name: str | None = None) -> MergePolicy:
    """A policy by name, or the default one."""
    with catalog.connect() as con:
        if name is None:
            row = con.execute("SELECT * FROM merge_policies WHERE is_default = 1").fetchone()
            if row is None:
                raise NotFoundError("no default merge policy; create one with --default")
        else:
            row = con.execute("SELECT * FROM merge_policies WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"merge policy {name!r} does not exist")
    return _policy(row)


def create_policy(platform: Any, name: str, kind: str, datasets: list[str] | None = None, *,
                  default: bool = False, description: str = "") -> MergePolicy:
    """Store a merge policy.

    Args:
        platform: The platform (datasets are resolved by name, id or table name).
        name: Policy name (letters, digits, '_', '.', '-').
        kind: "timestampOrdered" or "dataSetPrecedence".
        datasets: For dataSetPrecedence, the datasets in precedence order (first wins).
        default: Make it the default policy.
        description: Free text.

    Raises:
        MergePolicyError: the kind is unknown, the dataset list does not fit the kind, or a
            dataset is not profile-enabled.
    """
    if not _NAME.match(name):
        raise MergePolicyError(f"merge policy name {name!r} is invalid: use letters, digits, "
                               "'_', '.' or '-'")
    ids = _check(platform, kind, datasets or [])
    policy = MergePolicy(name, kind, tuple(ids), default, description, now_iso())
    with platform.catalog.connect() as con:
        if default:
            con.execute("UPDATE merge_policies SET is_default = 0")
        try:
            con.execute("INSERT INTO merge_policies (name, kind, datasets_json, is_default,"
                        " description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (name, kind, json.dumps(ids), int(default), description,
                         policy.created_at))
        except sqlite3.IntegrityError:
            raise AlreadyExistsError(f"merge policy {name!r} exists already") from None
    return policy


def set_default(catalog: Catalog, name: str) -> MergePolicy:
    """Make a policy the default (profiles are merged again with it at the next refresh)."""
    get_policy(catalog, name)
    with catalog.connect() as con:
        con.execute("UPDATE merge_policies SET is_default = 0")
        con.execute("UPDATE merge_policies SET is_default = 1 WHERE name = ?", (name,))
    return get_policy(catalog, name)


def delete_policy(catalog: Catalog, name: str) -> None:
    """Delete a policy other than the default."""
    if get_policy(catalog, name).is_default:
        raise MergePolicyError(f"merge policy {name!r} is the default; make another one the "
                               "default first")
    with catalog.connect() as con:
        con.execute("DELETE FROM merge_policies WHERE name = ?", (name,))


def _check(platform: Any, kind: str, datasets: list[str]) -> list[str]:
    if kind not in KINDS:
        raise MergePolicyError(f"merge policy kind {kind!r} is unknown: use {' or '.join(KINDS)}")
    if kind == TIMESTAMP_ORDERED and datasets:
        raise MergePolicyError("a timestampOrdered policy takes no dataset list")
    if kind == DATASET_PRECEDENCE and not datasets:
        raise MergePolicyError("a dataSetPrecedence policy needs the datasets in precedence "
                               "order")
    ids = []
    for key in datasets:
        ds = platform.lake.catalog.find_dataset(key)
        if ds is None:
            raise MergePolicyError(f"merge policy names dataset {key!r}, which does not exist")
        if not ds.profile_enabled:
            raise MergePolicyError(f"merge policy names dataset {ds.name!r}, which is not "
                                   "enabled for profile")
        ids.append(ds.id)
    if len(set(ids)) != len(ids):
        raise MergePolicyError("merge policy names a dataset twice")
    if len(ids) > MAX_DATASETS:
        raise MergePolicyError(f"a merge policy ranks at most {MAX_DATASETS} datasets")
    return ids


def _policy(row: sqlite3.Row) -> MergePolicy:
    return MergePolicy(row["name"], row["kind"], tuple(json.loads(row["datasets_json"])),
                       bool(row["is_default"]), row["description"], row["created_at"])
