"""What the unified profiles were last built from: per dataset, the snapshot merged.

Kept in the catalog (`profile_state`), so a refresh after a crash, or in another process, picks
up exactly the snapshots not merged yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from distillery.lake.catalog import Catalog, now_iso

_KEY = "unified"


@dataclass
class ProfileState:
    """The inputs of the current unified profiles.

    Attributes:
        watermarks: Dataset id -> the snapshot version merged.
        policy: Fingerprint of the merge policy applied.
        rules: Fingerprint of the graph rules applied.
        memberships: Snapshot of the audience memberships dataset joined (-1: none).
    """

    watermarks: dict[str, int] = field(default_factory=dict)
    policy: str = ""
    rules: str = ""
    memberships: int = -1

    @classmethod
    def load(cls, catalog: Catalog) -> ProfileState:
        """The saved state (empty before the first refresh)."""
        with catalog.connect() as con:
            row = con.execute("SELECT value_json FROM profile_state WHERE key = ?",
                              (_KEY,)).fetchone()
        return cls(**json.loads(row[0])) if row else cls()

    def save(self, catalog: Catalog) -> None:
        """Store the state (after the datasets it describes were written)."""
        value: dict[str, Any] = {"watermarks": self.watermarks, "policy": self.policy,
                                 "rules": self.rules, "memberships": self.memberships}
        with catalog.connect() as con:
            con.execute("INSERT INTO profile_state (key, value_json, updated_at) VALUES (?, ?, ?)"
                        " ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json,"
                        " updated_at = excluded.updated_at",
                        (_KEY, json.dumps(value), now_iso()))
