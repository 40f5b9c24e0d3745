"""Who entered, who exited and whose data changed since a destination was last sent anything.

`diff` compares the current members (minus those who refused marketing) with the sent state;
`outgoing` picks and labels the rows a destination receives in a mode:

- changes (streaming, HTTP): entered (realized), updated (existing), exited;
- full: every current member (realized for those who entered, else existing);
- incremental (after a first full export): entered and exited only.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from distillery.destinations.base import PERSON, STATUS_COLUMN
from distillery.destinations.plan import FINGERPRINT, OPTED_OUT
from distillery.destinations.state import EXITED, MEMBER

CHANGE = "__change"
STATE_STATUS = "__state_status"


@dataclass
class ChangeSet:
    """Current members split against the sent state."""

    entered: pl.DataFrame
    updated: pl.DataFrame
    unchanged: pl.DataFrame
    exited: pl.DataFrame
    excluded: int

    def counts(self) -> dict[str, int]:
        """entered, exited, updated, unchanged and excluded (refused marketing)."""
        return {"entered": self.entered.height, "exited": self.exited.height,
                "updated": self.updated.height, "unchanged": self.unchanged.height,
                "excluded": self.excluded}

    def members(self) -> pl.DataFrame:
        """(person_id, fingerprint) of every current member that may be activated."""
        return pl.concat([f.select(PERSON, pl.col(FINGERPRINT).alias("fingerprint"))
                          for f in (self.entered, self.updated, self.unchanged)])


def diff(current: pl.DataFrame, sent: pl.DataFrame) -> ChangeSet:
    """Split `current` (plan rows) against `sent` (person_id, fingerprint)."""
    allowed = current.filter(~pl.col(OPTED_OUT).fill_null(False))
    excluded = current.height - allowed.height
    joined = allowed.join(sent.rename({"fingerprint": "__sent"}), on=PERSON, how="left")
    entered = joined.filter(pl.col("__sent").is_null())
    known = joined.filter(pl.col("__sent").is_not_null())
    updated = known.filter(pl.col("__sent") != pl.col(FINGERPRINT))
    unchanged = known.filter(pl.col("__sent") == pl.col(FINGERPRINT))
    exited = sent.join(allowed.select(PERSON), on=PERSON, how="anti")
    drop = ["__sent"]
    return ChangeSet(entered.drop(drop), updated.drop(drop), unchanged.drop(drop),
                     exited.select(PERSON), excluded)


def outgoing(changes: ChangeSet, mode: str, primary: str, columns: list[str], *,
             ordered: bool = True) -> pl.DataFrame:
    """The rows to send; `ordered` sorts them by person, so that the same changes make the
    same batches (and idempotency keys) run after run.

    Columns: person_id, the sent columns, the status column, the fingerprint, the change
    (entered, updated, unchanged, exited) and the state status to record once delivered.
    """
    parts = [_label(changes.entered, "entered", "realized", MEMBER)]
    if mode in ("changes", "full"):
        parts.append(_label(changes.updated, "updated", "existing", MEMBER))
    if mode == "full":
        parts.append(_label(changes.unchanged, "unchanged", "existing", MEMBER))
    if mode in ("changes", "incremental"):
        gone = changes.exited.with_columns(pl.col(PERSON).alias(primary),
                                           pl.lit(None, pl.String).alias(FINGERPRINT))
        parts.append(_label(gone, "exited", "exited", EXITED))
    wanted = [PERSON, *columns, STATUS_COLUMN, FINGERPRINT, CHANGE, STATE_STATUS]
    frames = [p.select([c for c in wanted if c in p.columns]) for p in parts]
    rows = pl.concat(frames, how="diagonal_relaxed").select(wanted)
    return rows.sort(PERSON) if ordered else rows


def _label(frame: pl.DataFrame, change: str, status: str, state: str) -> pl.DataFrame:
    return frame.with_columns(pl.lit(status).alias(STATUS_COLUMN), pl.lit(change).alias(CHANGE),
                              pl.lit(state).alias(STATE_STATUS))
