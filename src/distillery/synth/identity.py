"""Identities of synthetic users: email, ECID, and the XDM `identityMap` column."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from distillery.synth import text
from distillery.synth.murmur import hash128

IDENTITY_TYPE = pa.struct([
    ("id", pa.string()), ("authenticatedState", pa.string()), ("primary", pa.bool_()),
])
IDENTITY_MAP_TYPE = pa.map_(pa.string(), pa.list_(IDENTITY_TYPE))


def emails(user_index: np.ndarray, domain: str = "example.com") -> pa.StringArray:
    """The reference's email per user: `synthetic-user-{id}@{domain}`."""
    ids = pa.array(np.asarray(user_index, dtype=np.int64)).cast(pa.string())
    return text.join("synthetic-user-", ids, f"@{domain}")


def ecid(emails: Iterable[str] | np.ndarray | pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """The reference's ECID of each email (a 38-digit string).

    Both signed 64-bit halves of MurmurHash3 x64 128 (`mmh3.hash64(email)`) are made absolute,
    written in decimal, left-padded to 19 characters with the digits "0123456789012345678" (not
    zeros), and concatenated.

    Args:
        emails: Email addresses (any iterable of str, or an Arrow string array).

    Returns:
        An Arrow string array of ECIDs aligned with `emails`.
    """
    return ecid_and_hash(emails)[0]


def ecid_and_hash(
    emails: Iterable[str] | np.ndarray | pa.Array | pa.ChunkedArray,
) -> tuple[pa.StringArray, pa.StringArray]:
    """ECIDs and the 32-hex-digit MurmurHash3 of each email (used as `hashedEmail`)."""
    if not isinstance(emails, pa.Array | pa.ChunkedArray):
        emails = pa.array(list(emails) if not isinstance(emails, np.ndarray) else emails,
                          type=pa.string())
    h1, h2 = hash128(emails)
    digits = np.concatenate([text.ecid_halves(h1), text.ecid_halves(h2)], axis=1)
    hashed = np.concatenate([text.hex64(h1), text.hex64(h2)], axis=1)
    return text.from_matrix(digits), text.from_matrix(hashed)


def identity_map(ecids: pa.Array, mails: pa.Array, row_user: np.ndarray) -> pa.MapArray:
    """The `identityMap` of each row: ECID (primary, ambiguous) and Email (authenticated).

    Args:
        ecids: ECID per user.
        mails: Email per user, aligned with `ecids`.
        row_user: For each output row, the position of its user in `ecids`.
    """
    n = len(row_user)
    users = len(ecids)
    # Row i's two identities sit at 2i (ECID) and 2i + 1 (Email) of one interleaved array.
    take = np.empty(2 * n, dtype=np.int64)
    take[0::2] = row_user
    take[1::2] = np.asarray(row_user, dtype=np.int64) + users
    ids = pa.concat_arrays([ecids, mails]).take(pa.array(take))
    alternate = pa.array(np.tile(np.array([0, 1], dtype=np.int32), n))
    states = pa.array(["ambiguous", "authenticated"]).take(alternate)
    primary = pa.array(np.tile(np.array([True, False]), n))
    identities = pa.StructArray.from_arrays([ids, states, primary], fields=list(IDENTITY_TYPE))
    singletons = pa.ListArray.from_arrays(pa.array(np.arange(2 * n + 1, dtype=np.int32)),
                                          identities)
    keys = pa.array(["ECID", "Email"]).take(alternate)
    offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, keys, singletons, type=IDENTITY_MAP_TYPE)

