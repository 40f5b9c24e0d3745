"""MurmurHash3 x64 128 (seed 0), vectorised over many keys with NumPy.

The reference derives its ECIDs from `mmh3.hash64(email)`. Hashing a million emails one call at a
time costs a Python round trip each; here keys of equal byte length are hashed together as a
matrix of little-endian 64-bit lanes, with uint64 arithmetic that wraps exactly as the C code does.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_C1 = np.uint64(0x87C37B91114253D5)
_C2 = np.uint64(0x4CF5AD432745937F)
_F1 = np.uint64(0xFF51AFD7ED558CCD)
_F2 = np.uint64(0xC4CEB9FE1A85EC53)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _fmix(k: np.ndarray) -> np.ndarray:
    k = k ^ (k >> np.uint64(33))
    k = k * _F1
    k = k ^ (k >> np.uint64(33))
    k = k * _F2
    return k ^ (k >> np.uint64(33))


def _mix_k1(k1: np.ndarray) -> np.ndarray:
    return _rotl(k1 * _C1, 31) * _C2


def _mix_k2(k2: np.ndarray) -> np.ndarray:
    return _rotl(k2 * _C2, 33) * _C1


def hash128_matrix(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hash keys that all have the same byte length.

    Args:
        keys: uint8 matrix of shape (n, length), one key per row.

    Returns:
        The two 64-bit halves (h1, h2) as uint64 arrays, as `mmh3.hash64(key, signed=False)`.
    """
    n, length = keys.shape
    nblocks = length // 16
    # Zero padding to whole 16-byte blocks lets the tail be mixed like a block: mixing a zero
    # lane is a no-op, which is exactly the C code skipping the absent tail bytes.
    padded = np.zeros((n, (nblocks + 1) * 16), dtype=np.uint8)
    padded[:, :length] = keys
    lanes = padded.view("<u8").astype(np.uint64, copy=False)
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(nblocks):
            h1 ^= _mix_k1(lanes[:, 2 * b])
            h1 = _rotl(h1, 27) + h2
            h1 = h1 * np.uint64(5) + np.uint64(0x52DCE729)
            h2 ^= _mix_k2(lanes[:, 2 * b + 1])
            h2 = _rotl(h2, 31) + h1
            h2 = h2 * np.uint64(5) + np.uint64(0x38495AB5)
        h2 ^= _mix_k2(lanes[:, 2 * nblocks + 1])
        h1 ^= _mix_k1(lanes[:, 2 * nblocks])
        h1 ^= np.uint64(length)
        h2 ^= np.uint64(length)
        h1 = h1 + h2
        h2 = h2 + h1
        h1 = _fmix(h1)
        h2 = _fmix(h2)
        h1 = h1 + h2
        h2 = h2 + h1
    return h1, h2


def hash128(keys: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Hash every UTF-8 string of an Arrow string (or binary) array.

    Args:
        keys: The keys; nulls are not allowed.

    Returns:
        (h1, h2) uint64 arrays aligned with `keys`.
    """
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if keys.null_count:
        raise ValueError("cannot hash null keys")
    large = pa.types.is_large_string(keys.type) or pa.types.is_large_binary(keys.type)
    keys = keys.cast(pa.large_binary() if large else pa.binary())
    _, offsets_buf, data_buf = keys.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if large else np.int32)
    offsets = offsets[keys.offset:keys.offset + len(keys) + 1]
    empty = data_buf is None  # an array of empty strings may have no data buffer at all
    data = np.zeros(0, np.uint8) if empty else np.frombuffer(data_buf, dtype=np.uint8)
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    h1 = np.empty(len(keys), dtype=np.uint64)
    h2 = np.empty(len(keys), dtype=np.uint64)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        matrix = data[starts[rows, None] + np.arange(length)]
        h1[rows], h2[rows] = hash128_matrix(matrix)
    return h1, h2
