"""Benchmark: batch ingestion of nested ExperienceEvent rows (validation included).

Builds one million reference-shaped events (directMarketing or web payloads, identityMap with
ECID and Email) with NumPy, then ingests `--rows` rows in batches of `--batch-rows` into a
fresh home, each batch validated and committed as one Delta snapshot. Prints rows/s and peak
RSS. Goal (issue "Platform core"): 10 million rows at 500,000 rows/s or more, peak RSS < 3 GB.

    .venv/bin/python bench/ingest.py [--rows 10000000] [--batch-rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery import Platform
from distillery.lake import xdm
from distillery.lake.ingest import uuid4_strings

TYPES = np.array([
    "advertising.clicks", "advertising.impressions", "web.webpagedetails.pageViews",
    "web.webinteraction.linkClicks", "commerce.productViews", "commerce.purchases",
    "decisioning.propositionDisplay", "decisioning.propositionInteract",
    "decisioning.propositionDismiss", "directMarketing.emailOpened",
    "directMarketing.emailClicked", "directMarketing.emailSent", "web.formFilledOut"])


def text(values: np.ndarray) -> pa.Array:
    """A string array from NumPy text (pa.array chunks large NumPy text arrays)."""
    arr = pa.array(values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def ecids(rng: np.random.Generator, n: int) -> pa.Array:
    digits = rng.integers(0, 10, size=(n, 38), dtype=np.uint8) + ord("0")
    offsets = np.arange(0, 38 * n + 1, 38, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(digits.tobytes())])


def events(n: int, seed: int) -> pa.Table:
    """`n` events shaped like the reference's, built column by column."""
    rng = np.random.default_rng(seed)
    schema = xdm.experience_event_schema().to_arrow()
    users = ecids(rng, max(n // 10, 1))
    userid = users.take(pa.array(rng.integers(0, len(users), n)))
    email = pc.binary_join_element_wise("synthetic-user-", pc.utf8_slice_codeunits(userid, 0, 8),
                                        "@example.com", "")
    if isinstance(email, pa.ChunkedArray):
        email = email.combine_chunks()
    type_index = rng.integers(0, len(TYPES), n)
    etype = text(TYPES[type_index])
    email_types = np.char.startswith(TYPES.astype(str), "directMarketing")
    is_email = pa.array(email_types[type_index])
    not_email = pa.array(~email_types[type_index])
    one = pa.array(np.ones(n))
    dm = pa.StructArray.from_arrays(
        [pa.StructArray.from_arrays([one], ["value"]) for _ in range(5)]
        + [userid, email, text(np.char.mod("msg-%d", rng.integers(0, 1000, n)))],
        fields=list(schema.field("directMarketing").type), mask=not_email)
    web_t = schema.field("web").type
    page_t = web_t.field("webPageDetails").type
    inter_t = web_t.field("webInteraction").type
    names = text(np.char.mod("page-%d", rng.integers(0, 500, n)))
    page = pa.StructArray.from_arrays(
        [pa.StructArray.from_arrays([one], ["value"]), names, names, pa.nulls(n, pa.string()),
         names, names, pa.array(np.zeros(n, dtype=bool))], fields=list(page_t))
    inter = pa.StructArray.from_arrays(
        [pa.StructArray.from_arrays([pa.array(rng.integers(0, 2, n).astype(float))], ["value"]),
         names, names, pa.nulls(n, pa.string()),
         text(np.array(["download", "exit", "other"])[rng.integers(0, 3, n)])],
        fields=list(inter_t))
    referrer = pa.StructArray.from_arrays([names, pa.nulls(n, pa.string())],
                                          fields=list(web_t.field("webReferrer").type))
    web = pa.StructArray.from_arrays([page, inter, referrer], fields=list(web_t), mask=is_email)
    ident_t = schema.field("identityMap").type.item_type.value_type
    entries = pa.StructArray.from_arrays(
        [_interleave(userid, email),
         text(np.tile(["ambiguous", "authenticated"], n)),
         pa.array(np.tile([True, False], n))], fields=list(ident_t))
    lists = pa.ListArray.from_arrays(pa.array(np.arange(2 * n + 1, dtype=np.int32)), entries)
    imap = pa.MapArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                                   text(np.tile(["ECID", "Email"], n)), lists)
    start = np.datetime64("2026-01-01T00:00:00", "us").astype(np.int64)
    ts = pa.array(start + rng.integers(0, 70 * 86400 * 10**6, n), pa.timestamp("us", tz="UTC"))
    columns = {
        "_id": uuid4_strings(n, rng.bytes(16 * n)), "timestamp": ts, "eventType": etype,
        "producedBy": text(np.full(n, "self")), "identityMap": imap,
        "directMarketing": dm, "web": web, "commerce": pa.nulls(n, schema.field("commerce").type),
        "_tenant": pa.StructArray.from_arrays([userid], fields=list(schema.field("_tenant").type)),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def _interleave(a: pa.Array, b: pa.Array) -> pa.Array:
    """a0, b0, a1, b1, ... (identityMap lists hold one ECID then one Email per row)."""
    order = np.empty(2 * len(a), dtype=np.int64)
    order[0::2] = np.arange(len(a))
    order[1::2] = np.arange(len(a)) + len(a)
    return pa.concat_arrays([a, b.cast(a.type)]).take(pa.array(order))



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    chunk = events(min(args.batch_rows, args.rows), seed=1)
    print(f"built a {chunk.num_rows:,}-row nested chunk ({chunk.nbytes / 1e6:,.0f} MB in memory)")
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform.open(tmp)
        ds = platform.create_dataset("events", xdm.experience_event_schema(),
                                     profile_enabled=True)
        done = 0
        seconds = 0.0
        batch_no = 0
        while done < args.rows:
            rows = min(args.batch_rows, args.rows - done)
            # A fresh _id per batch, so every batch is distinct rows (made outside the clock).
            data = chunk.slice(0, rows).set_column(0, "_id", uuid4_strings(rows))
            started = time.perf_counter()
            rec = platform.ingest(ds, data, batch_id=f"bench-{batch_no}")
            seconds += time.perf_counter() - started
            assert rec.output_records == rows, rec
            done += rows
            batch_no += 1
        total = platform.query("SELECT count(*) FROM events").scalar()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        on_disk = sum(f.stat().st_size for f in platform.lake.path(ds).glob("*.parquet"))
    print(f"ingested {done:,} rows in {batch_no} batches: {seconds:.1f} s, "
          f"{done / seconds:,.0f} rows/s (goal >= 500,000), peak RSS {peak:,.0f} MB "
          f"(goal < 3,072), on disk {on_disk / 1e6:,.0f} MB, rows readable {total:,}")


if __name__ == "__main__":
    main()
