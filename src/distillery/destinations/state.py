"""What a destination was last sent about each person of an audience.

An append-only log of small Parquet files under
`{sandbox}/destinations/{destination}/{audience_id}/`, each row (person_id, fingerprint,
status, run_id); the newest row per person wins. An HTTP run appends after every batch the
endpoint accepted, so a crash mid-run loses nothing that was delivered; `compact` folds the log
into one file at the end of a run. Records the endpoint rejected are never written here, so
the next run sends them again; a separate log counts the rejections (see `rejections`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([("person_id", pa.string()), ("fingerprint", pa.string()),
                    ("status", pa.string()), ("run_id", pa.string())])
REJECTED_SCHEMA = pa.schema([("person_id", pa.string()), ("run_id", pa.string())])
MEMBER, EXITED = "member", "exited"
_PART = re.compile(r"^part-(\d{10})\.parquet$")
_REJECTED = re.compile(r"^rejected-(\d{10})\.parquet$")


class SentState:
    """The sent-state log of one (destination, audience) pair."""

    def __init__(self, root: Path, destination: str, audience_id: str) -> None:
        self.folder = root / "destinations" / destination / audience_id

    def _parts(self, pattern: re.Pattern[str] = _PART) -> list[tuple[int, Path]]:
        if not self.folder.exists():
            return []
        found = []
        for p in self.folder.iterdir():
            m = pattern.match(p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    def read(self) -> pl.DataFrame:
        """The current state: one row per person the destination holds as a member."""
        parts = self._parts()
        if not parts:
            return pl.DataFrame(schema={"person_id": pl.String, "fingerprint": pl.String})
        log = pl.concat([pl.DataFrame(pq.read_table(p, schema=SCHEMA)) for _, p in parts],
                        how="vertical")
        latest = log.unique(subset="person_id", keep="last", maintain_order=True)
        return latest.filter(pl.col("status") == MEMBER).select("person_id", "fingerprint")

    def is_empty(self) -> bool:
        """Whether nothing was ever delivered."""
        return not self._parts()

    def append(self, rows: pl.DataFrame, run_id: str) -> None:
        """Record delivered rows (person_id, fingerprint, status) as one new log file."""
        if rows.height == 0:
            return
        table = rows.select("person_id", "fingerprint", "status").with_columns(
            pl.lit(run_id).alias("run_id")).to_arrow().cast(SCHEMA)
        self._write(self._next(), table)

    def replace(self, members: pl.DataFrame, run_id: str) -> None:
        """Make `members` (person_id, fingerprint) the whole state (after a full export)."""
        rows = members.select("person_id", "fingerprint").with_columns(
            pl.lit(MEMBER).alias("status"))
        number = self._next()
        self._write(number, rows.with_columns(pl.lit(run_id).alias("run_id"))
                    .to_arrow().cast(SCHEMA))
        self._drop_before(number)

    def reject(self, person_ids: list[str], run_id: str) -> None:
        """Record that the destination rejected these people's records in this run."""
        if not person_ids:
            return
        parts = self._parts(_REJECTED)
        number = parts[-1][0] + 1 if parts else 1
        table = pa.table({"person_id": person_ids, "run_id": [run_id] * len(person_ids)},
                         schema=REJECTED_SCHEMA)
        self._write(number, table, "rejected")

    def rejections(self) -> pl.DataFrame:
        """How many times each person's records were rejected (person_id, rejections).

        A record sent again after a rejection is a new delivery, so its idempotency key
        must differ from the rejected one's; the count makes it so."""
        parts = self._parts(_REJECTED)
        if not parts:
            return pl.DataFrame(schema={"person_id": pl.String, "rejections": pl.UInt32})
        log = pl.concat([pl.DataFrame(pq.read_table(p, schema=REJECTED_SCHEMA))
                         for _, p in parts], how="vertical")
        return log.group_by("person_id").agg(pl.len().cast(pl.UInt32).alias("rejections"))

    def compact(self, run_id: str) -> None:
        """Fold the log into one file (same state, fewer files)."""
        if len(self._parts()) > 1:
            self.replace(self.read(), run_id)

    def clear(self) -> None:
        """Forget everything sent (the next run sends everyone again)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _next(self) -> int:
        parts = self._parts()
        return parts[-1][0] + 1 if parts else 1

    def _write(self, number: int, table: pa.Table, kind: str = "part") -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{kind}-{number:010d}.parquet"
        tmp = self.folder / f".{final.name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)  # a reader sees the whole file or none of it

    def _drop_before(self, number: int) -> None:
        for n, p in self._parts():
            if n < number:
                p.unlink(missing_ok=True)
