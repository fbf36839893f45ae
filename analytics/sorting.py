"""Ordering rows by several integer keys: one packed stable sort instead of a lexsort."""

from __future__ import annotations

import numpy as np

from analytics.arrays import IntArray


def sort_order(keys: tuple[IntArray, ...]) -> IntArray:
    """The order sorting rows by ``keys`` (most significant first), like ``np.lexsort`` of
    the reversed keys, but as one stable sort of a packed int64 key when the value ranges
    fit in 63 bits, which is several times faster."""
    if not len(keys[0]):
        return np.zeros(0, dtype=np.int64)
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - low + 1 for k, low in zip(keys, lows, strict=True)]
    if np.prod([float(s) for s in spans]) >= 2.0**62:
        return np.lexsort(keys[::-1]).astype(np.int64)
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for key, low, span in zip(keys, lows, spans, strict=True):
        packed = packed * span + (key - low)
    order: IntArray = np.argsort(packed, kind="stable").astype(np.int64)
    return order
