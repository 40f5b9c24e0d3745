"""ECIDs: the reference's function of the email, checked against mmh3 computed here."""

from __future__ import annotations

import random
import string

import mmh3
import numpy as np
import pyarrow as pa
import pytest

from distillery.synth import ecid, emails
from distillery.synth.identity import identity_map
from distillery.synth.murmur import hash128

PAD = "0123456789012345678"


def reference_ecid(email: str) -> str:
    """The reference's get_ecid, written out independently of the library."""
    out = ""
    for half in mmh3.hash64(email):
        digits = str(abs(half))
        out += PAD[: 19 - len(digits)] + digits
    return out


@pytest.mark.parametrize("email", [
    "synthetic-user-0@example.com",
    "synthetic-user-1@example.com",
    "synthetic-user-99999@example.com",
    "synthetic-user-123456789@adobe.com",
    "someone@example.org",
    "",
    "ü-ñ@例え.jp",
])
def test_worked_examples(email: str) -> None:
    got = ecid([email]).to_pylist()[0]
    assert got == reference_ecid(email)
    assert len(got) == 38 and got.isdigit()


def test_known_value() -> None:
    # mmh3.hash64("synthetic-user-0@example.com") = (-1586287060568135357, 1784274843271731679)
    assert ecid(["synthetic-user-0@example.com"]).to_pylist() == [
        "1586287060568135357" + "1784274843271731679"]


def test_padding_uses_the_digit_sequence() -> None:
    from distillery.synth.text import ecid_halves

    values = np.array([5, -123, 0, -(2**63), 2**63 - 1], dtype=np.int64)
    got = [row.tobytes().decode() for row in ecid_halves(values)]
    assert got == ["0123456789012345675", "0123456789012345123", "0123456789012345670",
                   "9223372036854775808", "9223372036854775807"]


def test_vectorised_murmur_matches_mmh3_on_every_length() -> None:
    rng = random.Random(11)
    keys = ["".join(rng.choices(string.printable, k=n)) for n in range(0, 80) for _ in range(3)]
    keys += ["é漢字" * k for k in range(6)]
    h1, h2 = hash128(pa.array(keys))
    for key, a, b in zip(keys, h1.tolist(), h2.tolist(), strict=True):
        assert (a, b) == mmh3.hash64(key, signed=False)


def test_many_emails(tmp_path: object) -> None:
    mails = emails(np.arange(0, 120_000, 997), "example.com").to_pylist()
    got = ecid(pa.array(mails)).to_pylist()
    assert got == [reference_ecid(m) for m in mails]
    assert mails[1] == "synthetic-user-997@example.com"


def test_ecid_accepts_sliced_and_chunked_arrays() -> None:
    mails = emails(np.arange(50))
    sliced = mails.slice(10, 5)
    assert ecid(sliced).to_pylist() == [reference_ecid(m) for m in sliced.to_pylist()]
    chunked = pa.chunked_array([mails.slice(0, 3), mails.slice(3, 4)])
    assert ecid(chunked).to_pylist() == [reference_ecid(m) for m in mails.to_pylist()[:7]]


def test_identity_map_has_ecid_primary_and_email() -> None:
    mails = emails(np.arange(2))
    ids = ecid(mails)
    rows = identity_map(ids, mails, np.array([1, 0])).to_pylist()
    assert rows[0] == [
        ("ECID", [{"id": ids[1].as_py(), "authenticatedState": "ambiguous", "primary": True}]),
        ("Email", [{"id": "synthetic-user-1@example.com", "authenticatedState": "authenticated",
                    "primary": False}]),
    ]
