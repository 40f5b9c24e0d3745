"""Building Arrow string columns from NumPy byte matrices, without a Python loop per row.

Fixed-width text (uuids, ECIDs, hex ids, zero-padded numbers) is built as an (n, width) uint8
matrix of ASCII codes and handed to Arrow as the data buffer of a string array.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# The two hex digits of every byte value, as one little-endian uint16 (first digit in the low byte)
# so one gather writes both.
_HEX_PAIRS = (_HEX[np.arange(256) >> 4].astype("<u2")
              | (_HEX[np.arange(256) & 15].astype("<u2") << 8)).astype("<u2")
_ZERO = ord("0")
# The reference pads ECID halves with this digit sequence rather than with zeros.
_ECID_PAD = np.frombuffer(b"0123456789012345678", dtype=np.uint8)


def from_matrix(matrix: np.ndarray) -> pa.StringArray:
    """An Arrow string array whose i-th value is row i of an ASCII uint8 matrix."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    if offsets[-1] < 2**31:
        offsets = offsets.astype(np.int32)
        kind = pa.string()
    else:
        kind = pa.large_string()
    data = np.ascontiguousarray(matrix, dtype=np.uint8)
    arr = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return arr if kind == pa.string() else arr.cast(pa.string())


def hex_matrix(raw: np.ndarray) -> np.ndarray:
    """Lower-case hex digits of each byte row: (n, k) uint8 -> (n, 2k) ASCII."""
    pairs = _HEX_PAIRS[np.ascontiguousarray(raw)]
    return pairs.view(np.uint8).reshape(raw.shape[0], raw.shape[1] * 2)


def hex64(values: np.ndarray) -> np.ndarray:
    """16 hex digits (big-endian) of each uint64: (n,) -> (n, 16) ASCII."""
    raw = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    return hex_matrix(raw)


def uuid4_matrix(raw: np.ndarray) -> np.ndarray:
    """RFC 4122 version-4 uuid text from 16 random bytes per row: (n, 16) -> (n, 36) ASCII."""
    raw = raw.copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = hex_matrix(raw)
    out = np.full((raw.shape[0], 36), ord("-"), dtype=np.uint8)
    for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        out[:, dst:dst + width] = digits[:, src:src + width]
    return out


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers: (n,) -> (n, width) ASCII.

    Values with more than `width` digits keep only their last `width` digits.
    """
    v = values.astype(np.uint64)
    out = np.empty((len(v), width), dtype=np.uint8)
    ten = np.uint64(10)
    for col in range(width - 1, -1, -1):
        out[:, col] = (v % ten).astype(np.uint8) + _ZERO
        v = v // ten
    return out


def ecid_halves(values: np.ndarray) -> np.ndarray:
    """The reference's 19-character rendering of |h| for signed 64-bit halves h.

    `str(abs(h))` left-padded with the first characters of "0123456789012345678" up to 19
    characters: (n,) int64 -> (n, 19) ASCII.
    """
    signed = values.view(np.int64) if values.dtype == np.uint64 else values.astype(np.int64)
    # abs(-2**63) does not fit int64; in uint64 two's complement negation gives it exactly.
    mag = signed.view(np.uint64).copy()
    neg = signed < 0
    mag[neg] = ~mag[neg] + np.uint64(1)
    out = digits(mag, 19)
    length = _decimal_length(mag)
    pad = 19 - length
    cols = np.arange(19)
    use_pad = cols[None, :] < pad[:, None]
    out[use_pad] = np.broadcast_to(_ECID_PAD, out.shape)[use_pad]
    return out


def _decimal_length(mag: np.ndarray) -> np.ndarray:
    """Number of decimal digits of each uint64 (at least 1, as str(0) is '0')."""
    length = np.ones(len(mag), dtype=np.int64)
    for power in range(1, 20):
        length += mag >= np.uint64(10**power)
    return length


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literal strings."""
    return pc.binary_join_element_wise(*parts, "")
