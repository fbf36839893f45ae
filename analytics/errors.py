"""Refused analysis input: the error types, their exact messages, and the checks that raise them.

Every error is a ``ValueError`` subclass with a stable ``code``:

- ``LengthMismatchError`` (``length_mismatch``):
  ``"{name} has {got} entries, expected {expected}"``
- ``NonFiniteError`` (``non_finite``):
  ``"{name} has {k} NaN or infinite values (first at index {i})"``
- ``NegativeValueError`` (``negative_value``):
  ``"{name} has {k} negative values (first at index {i})"``
- ``IndexRangeError`` (``index_out_of_range``):
  ``"{name} has {k} values outside 0..{hi} (first at index {i})"``
- ``ParameterError`` (``invalid_parameter``): ``"{name} must be {rule}, got {value}"``
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class AnalysisInputError(ValueError):
    """Input the analysis refuses; ``code`` is stable and safe to show, the message exact."""

    code = "invalid_input"


class LengthMismatchError(AnalysisInputError):
    code = "length_mismatch"


class NonFiniteError(AnalysisInputError):
    code = "non_finite"


class NegativeValueError(AnalysisInputError):
    code = "negative_value"


class IndexRangeError(AnalysisInputError):
    code = "index_out_of_range"


class ParameterError(AnalysisInputError):
    code = "invalid_parameter"


def require_length(name: str, got: int, expected: int) -> None:
    if got != expected:
        raise LengthMismatchError(f"{name} has {got} entries, expected {expected}")


def require_finite(name: str, values: npt.NDArray[Any]) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        raise NonFiniteError(f"{name} has {int(bad.sum())} NaN or infinite values "
                             f"(first at index {int(np.argmax(bad))})")


def require_nonnegative(name: str, values: npt.NDArray[Any]) -> None:
    bad = values < 0
    if bad.any():
        raise NegativeValueError(f"{name} has {int(bad.sum())} negative values "
                                 f"(first at index {int(np.argmax(bad))})")


def require_index(name: str, values: npt.NDArray[np.int64], size: int,
                  allow_missing: bool = False) -> None:
    """Every value must index an array of ``size``; -1 is allowed for 'unknown' if asked."""
    low = -1 if allow_missing else 0
    bad = (values < low) | (values >= size)
    if bad.any():
        raise IndexRangeError(f"{name} has {int(bad.sum())} values outside {low}..{size - 1} "
                              f"(first at index {int(np.argmax(bad))})")


def require(condition: bool, name: str, rule: str, value: object) -> None:
    if not condition:
        raise ParameterError(f"{name} must be {rule}, got {value!r}")


def as_int_array(name: str, values: Any) -> npt.NDArray[np.int64]:
    """A 1-d int64 copy-free view when possible; floats with fractions are refused."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ParameterError(f"{name} must be one-dimensional, got {array.ndim} dimensions")
    if array.dtype.kind == "f":
        require_finite(name, array)
        if (array != np.round(array)).any():
            raise ParameterError(f"{name} must be whole numbers, got fractional values")
    elif array.size and array.dtype.kind not in "iub":
        raise ParameterError(f"{name} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def as_float_array(name: str, values: Any) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ParameterError(f"{name} must be one-dimensional, got {array.ndim} dimensions")
    return array
