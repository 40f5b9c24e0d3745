"""Individual Profile rows: names, contact details, address, loyalty and consents.

Each user's profile is fixed by its `profile_u` uniforms (one column per attribute, drawn in its
block), mapped onto the pools of pools.py. Profiles carry no behavioural signal, as in the
reference; opted-out users are a configurable share with `consents.marketing.any.val = "n"`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from distillery.synth import pools, text
from distillery.synth.cohort import Cohort
from distillery.synth.identity import identity_map
from distillery.synth.payload import UserIds

# Columns of Cohort.profile_u.
(_GENDER, _FIRST, _LAST, _AGE, _CITY, _HOUSE, _STREET, _SUFFIX, _ZIP, _PHONE, _TIER, _POINTS,
 _JOINED, _OPT_OUT, _SMS, _SHARE) = range(16)

# Points range per tier (member at the bottom), so points and tier agree.
_TIER_POINTS = {"diamond": (75_000, 250_000), "platinum": (30_000, 75_000),
                "gold": (10_000, 30_000), "silver": (2_000, 10_000), "member": (0, 2_000)}
# A multiplier coprime to 10 makes index -> (index * M + C) mod 10**10 a bijection, so loyalty
# ids are unique for the first 10**10 users.
_LOYALTY_MULTIPLIER = 6_364_136_223
_LOYALTY_OFFSET = 1_442_695_040
_DAYS_PER_YEAR = 365.2425


def profile_columns(c: Cohort, ids: UserIds, as_of: date, tenant: str,
                    opt_out_share: float) -> dict[str, pa.Array]:
    """The Individual Profile columns of a cohort's users, by top-level field name."""
    u = c.profile_u
    today = (as_of - date(1970, 1, 1)).days
    return {
        "identityMap": identity_map(ids.ecid, ids.email, np.arange(c.users)),
        f"_{tenant}": pa.StructArray.from_arrays([ids.ecid], ["userid"]),
        "person": _person(u, today),
        "personalEmail": pa.StructArray.from_arrays([ids.email], ["address"]),
        "mobilePhone": pa.StructArray.from_arrays([_phone(u)], ["number"]),
        "homeAddress": _address(u),
        "loyalty": _loyalty(c, today),
        "consents": _consents(u, opt_out_share),
    }


def _pick(pool: tuple[str, ...], u: np.ndarray) -> pa.Array:
    return pa.array(pool).take(pa.array(_index(u, len(pool))))


def _index(u: np.ndarray, size: int) -> np.ndarray:
    return np.minimum((u * size).astype(np.int64), size - 1)


def _person(u: np.ndarray, today: int) -> pa.StructArray:
    g = u[:, _GENDER]
    female, male = g < 0.49, (g >= 0.49) & (g < 0.98)
    gender = np.where(female, "female", np.where(male, "male", "not_specified"))
    names = pools.FEMALE_NAMES + pools.MALE_NAMES
    nf = len(pools.FEMALE_NAMES)
    first = np.where(female, _index(u[:, _FIRST], nf),
                     np.where(male, nf + _index(u[:, _FIRST], len(pools.MALE_NAMES)),
                              _index(u[:, _FIRST], len(names))))
    # Adults 18 to 80, younger ages a little more frequent, as in a retail customer base.
    age_days = (18 + 62 * u[:, _AGE] ** 1.3) * _DAYS_PER_YEAR
    birth = (today - age_days).astype(np.int32)
    name = pa.StructArray.from_arrays(
        [pa.array(names).take(pa.array(first)), _pick(pools.LAST_NAMES, u[:, _LAST])],
        ["firstName", "lastName"])
    return pa.StructArray.from_arrays(
        [name, pa.array(gender), pa.array(birth, type=pa.date32())],
        ["name", "gender", "birthDate"])


def _city_column(column: int) -> tuple[str, ...]:
    return tuple(city[column] for city in pools.CITIES)


def _phone(u: np.ndarray) -> pa.Array:
    city = _index(u[:, _CITY], len(pools.CITIES))
    area = np.frombuffer("".join(_city_column(3)).encode(), dtype=np.uint8).reshape(-1, 3)
    number = (u[:, _PHONE] * 8_000_000).astype(np.int64)
    out = np.empty((len(u), 15), dtype=np.uint8)
    out[:, 0:3] = np.frombuffer(b"+1-", dtype=np.uint8)
    out[:, 3:6] = area[city]
    out[:, 6] = out[:, 10] = ord("-")
    out[:, 7:10] = text.digits(200 + number // 10_000, 3)
    out[:, 11:15] = text.digits(number % 10_000, 4)
    return text.from_matrix(out)


def _address(u: np.ndarray) -> pa.StructArray:
    n = len(u)
    city = pa.array(_index(u[:, _CITY], len(pools.CITIES)))
    house = pa.array((1 + 9_999 * u[:, _HOUSE] ** 2).astype(np.int64)).cast(pa.string())
    street = text.join(house, " ", _pick(pools.STREETS, u[:, _STREET]), " ",
                       _pick(pools.STREET_SUFFIXES, u[:, _SUFFIX]))
    zip_tail = text.from_matrix(text.digits((u[:, _ZIP] * 100).astype(np.int64), 2))
    postal = text.join(pa.array(_city_column(2)).take(city), zip_tail)
    return pa.StructArray.from_arrays(
        [street, pa.array(_city_column(0)).take(city), pa.array(_city_column(1)).take(city),
         postal, pa.repeat(pa.scalar("US"), n)],
        ["street1", "city", "stateProvince", "postalCode", "country"])


def _loyalty(c: Cohort, today: int) -> pa.StructArray:
    u = c.profile_u
    names = [name for name, _ in pools.TIERS]
    bounds = np.cumsum([share for _, share in pools.TIERS])
    tier = np.minimum(np.searchsorted(bounds, u[:, _TIER], side="right"), len(names) - 1)
    lo = np.array([_TIER_POINTS[t][0] for t in names], dtype=np.float64)[tier]
    hi = np.array([_TIER_POINTS[t][1] for t in names], dtype=np.float64)[tier]
    points = np.rint(lo + (hi - lo) * u[:, _POINTS])
    scrambled = (c.user_index.astype(np.uint64) * np.uint64(_LOYALTY_MULTIPLIER)
                 + np.uint64(_LOYALTY_OFFSET)) % np.uint64(10**10)
    loyalty_id = text.join("LY", text.from_matrix(text.digits(scrambled, 10)))
    # Members joined between two weeks and ten years ago.
    joined = (today - 14 - u[:, _JOINED] * 10 * _DAYS_PER_YEAR).astype(np.int32)
    return pa.StructArray.from_arrays(
        [loyalty_id, pa.array(names).take(pa.array(tier)), pa.array(points),
         pa.array(joined, type=pa.date32())],
        ["loyaltyID", "tier", "points", "joinDate"])


def _yes_no(yes: np.ndarray) -> pa.StructArray:
    return pa.StructArray.from_arrays([pa.array(np.where(yes, "y", "n"))], ["val"])


def _consents(u: np.ndarray, opt_out_share: float) -> pa.StructArray:
    opted_in = u[:, _OPT_OUT] >= opt_out_share
    sms = opted_in & (u[:, _SMS] < 0.6)
    preferred = np.where(~opted_in, "none", np.where(sms & (u[:, _SMS] < 0.2), "sms", "email"))
    marketing = pa.StructArray.from_arrays(
        [pa.array(preferred), _yes_no(opted_in), _yes_no(opted_in), _yes_no(sms)],
        ["preferred", "any", "email", "sms"])
    return pa.StructArray.from_arrays(
        [marketing, _yes_no(np.ones(len(u), dtype=bool)),
         _yes_no(opted_in & (u[:, _SHARE] >= 0.05))],
        ["marketing", "collect", "share"])
