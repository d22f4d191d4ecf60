"""The one set of input checks of :mod:`kmc` (private).

Every public function and class validates its arguments with these helpers, so a bad value
gets the same kind of message everywhere: it names the argument, shows the value and says
what was expected, e.g. ``temperature_K = -3.0 must be > 0``. A value of the wrong *type*
raises :class:`~kmc.errors.ConfigTypeError` (both a ConfigError and a TypeError); a value of
the right type but out of range raises :class:`~kmc.errors.ConfigError`.

Nothing here knows about networks, runs or files: these are checks of numbers, names and
arrays only.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, ConfigTypeError

__all__ = ["show", "fmt", "real", "integer", "choice", "name", "names", "size3",
           "as_numeric", "owned", "float_array", "int_array", "broadcast_float",
           "check_shape", "check_finite", "check_int_range", "close_match_hint"]


# --------------------------------------------------------------------------------------------
# how values appear in messages
# --------------------------------------------------------------------------------------------
def show(value: Any) -> str:
    """``repr`` of a value for a message, numpy scalars shown as plain Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, (tuple, list)):
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def fmt(x: Any) -> str:
    """A number (6 significant digits) or a small array of numbers, for a message."""
    arr = np.asarray(x)
    if arr.ndim == 0:
        v = arr.item()
        return f"{v:.6g}" if isinstance(v, float) else str(v)
    return "(" + ", ".join(fmt(v) for v in arr.ravel()) + ")"


def close_match_hint(value: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of `known`, or ``""``."""
    close = difflib.get_close_matches(value, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _range_text(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    if hi == math.inf:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if lo == -math.inf:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


# --------------------------------------------------------------------------------------------
# scalars
# --------------------------------------------------------------------------------------------
def real(value: Any, name: str, *, lo: float = -math.inf, hi: float = math.inf,
         lo_open: bool = False, hi_open: bool = False, finite: bool = True) -> float:
    """A finite real number in the range ``lo .. hi`` (open ends as given).

    Parameters
    ----------
    finite : bool
        False: check the type only (any float, nan and infinities included), for callers
        that state the whole rule in their own message.

    Raises
    ------
    ConfigTypeError
        If `value` is not a real number (bools are not numbers here).
    ConfigError
        If it is not finite or out of range; the message names `name` and the value.
    """
    if not _is_real(value):
        raise ConfigTypeError(f"{name} must be a real number, got {type(value).__name__} "
                              f"{show(value)}")
    x = float(value)
    if not finite:
        return x
    if not math.isfinite(x):
        bounded = lo != -math.inf or hi != math.inf
        rule = f" and {_range_text(lo, hi, lo_open, hi_open)}" if bounded else ""
        raise ConfigError(f"{name} = {show(value)} must be finite{rule}")
    if (x <= lo if lo_open else x < lo) or (x >= hi if hi_open else x > hi):
        raise ConfigError(f"{name} = {show(value)} must be "
                          f"{_range_text(lo, hi, lo_open, hi_open)}")
    return x


def integer(value: Any, name: str, *, lo: int | None = None, hi: int | None = None,
            whole_floats: bool = False) -> int:
    """An integer in ``lo .. hi`` (inclusive; None: unbounded).

    Parameters
    ----------
    whole_floats : bool
        Accept a float that holds a whole number (``1e6``), as a count typed by a user.

    Raises
    ------
    ConfigTypeError
        If `value` is not an integer (bools are not integers here).
    ConfigError
        If it is out of range.
    """
    if whole_floats and _is_real(value) and not _is_int(value):
        x = float(value)
        if math.isfinite(x) and x.is_integer():
            value = int(x)
    if not _is_int(value):
        raise ConfigTypeError(f"{name} must be an integer, got {type(value).__name__} "
                              f"{show(value)}")
    n = operator.index(value)
    if lo is not None and hi is not None and not lo <= n <= hi:
        raise ConfigError(f"{name} = {n} must be in [{lo}, {hi}]")
    if lo is not None and n < lo:
        raise ConfigError(f"{name} = {n} must be >= {lo}")
    if hi is not None and n > hi:
        raise ConfigError(f"{name} = {n} must be <= {hi}")
    return int(n)


def choice(value: Any, name: str, choices: Sequence[str], *, fold_case: bool = False) -> str:
    """One of `choices` (with a did-you-mean hint otherwise).

    Parameters
    ----------
    fold_case : bool
        Compare without regard to case and surrounding blanks; return the spelling of
        `choices`.
    """
    if not isinstance(value, str):
        raise ConfigTypeError(f"{name} = {show(value)} must be one of {', '.join(choices)}")
    key = value.strip().lower() if fold_case else value
    for c in choices:
        if key == (c.lower() if fold_case else c):
            return c
    raise ConfigError(f"{name} = {value!r} must be one of {', '.join(choices)}"
                      f"{close_match_hint(key, choices)}")


def name(value: Any, what: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise ConfigTypeError(f"{what} must be a string, got {type(value).__name__} "
                              f"{show(value)}")
    if not value:
        raise ConfigError(f"{what} must be a non-empty string")
    return value


def names(value: Any, what: str) -> tuple[str, ...]:
    """A non-empty tuple of distinct non-empty strings (from a tuple or a list)."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise ConfigTypeError(
            f"{what} must be a tuple of strings, got {type(value).__name__} {value!r}")
    out = tuple(value)
    if len(out) == 0:
        raise ConfigError(f"{what} must contain at least one name")
    seen: dict[str, int] = {}
    for k, s in enumerate(out):
        if not isinstance(s, str):
            raise ConfigTypeError(f"{what}[{k}] must be a string, got {type(s).__name__} {s!r}")
        if not s:
            raise ConfigError(f"{what}[{k}] is an empty string")
        if s in seen:
            raise ConfigError(f"{what}[{k}] = {s!r} repeats {what}[{seen[s]}]; names must be "
                              "unique")
        seen[s] = k
    return out


def size3(size: Any, axes: tuple[bool, bool, bool] = (True, True, True),
          what: str = "size") -> tuple[int, int, int]:
    """Repeats of a unit cell along its 3 vectors: an integer (along `axes`; 1 along the
    others) or a sequence of 3 integers >= 1."""
    if _is_int(size):
        if size < 1:
            raise ConfigError(f"{what} = {show(size)} must be >= 1")
        return tuple(int(size) if h else 1 for h in axes)  # type: ignore[return-value]
    if _is_real(size):
        raise ConfigTypeError(f"{what} = {show(size)} is not an integer")
    if isinstance(size, (str, bytes)) or not isinstance(size, (Sequence, np.ndarray)):
        raise ConfigTypeError(f"{what} = {show(size)} must be an integer or a sequence of 3 "
                              "integers (repeats of the unit cell)")
    vals = list(size)
    if len(vals) != 3:
        raise ConfigError(f"{what} = {show(size)} must have 3 entries, got {len(vals)}")
    for k, v in enumerate(vals):
        if not _is_int(v):
            raise ConfigTypeError(f"{what}[{k}] = {show(v)} is not an integer "
                                  f"({what} = {show(size)})")
        if v < 1:
            raise ConfigError(f"{what}[{k}] = {show(v)} must be >= 1 ({what} = {show(size)})")
    return tuple(int(v) for v in vals)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# arrays
# --------------------------------------------------------------------------------------------
def _index(name: str, idx: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in idx)}]"


def as_numeric(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)`` checked to hold real numbers (ConfigTypeError otherwise)."""
    if value is None or isinstance(value, (str, bytes)):
        raise ConfigTypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} could not be converted to an array ({exc})") from None
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ConfigTypeError(f"{name} must be an array of numbers; it has non-numeric "
                                  "entries") from None
    if arr.dtype.kind not in "biuf":
        raise ConfigTypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    return arr


def owned(arr: np.ndarray, value: Any, dtype: Any) -> np.ndarray:
    """A contiguous array of `dtype` that shares no memory with the caller's `value`."""
    out = np.ascontiguousarray(arr, dtype=dtype)
    if isinstance(value, np.ndarray) and np.may_share_memory(out, value):
        out = out.copy()
    return out


def check_finite(arr: np.ndarray, name: str, rule: str = "values must be finite") -> None:
    """Raise naming the first entry that is not finite."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise ConfigError(f"{_index(name, idx)} is {fmt(arr[idx])}; {rule}")


def check_shape(arr: np.ndarray, name: str, shape: tuple[int | None, ...]) -> None:
    """Raise unless `arr` has `shape` (None: any length along that axis)."""
    ok = arr.ndim == len(shape) and all(s is None or s == t for s, t in zip(shape, arr.shape))
    if not ok:
        dims = ["n" if s is None else str(s) for s in shape]
        want = "(" + ", ".join(dims) + ("," if len(shape) == 1 else "") + ")"
        raise ConfigError(f"{name} must have shape {want}, got shape {arr.shape}")


def float_array(value: Any, name: str, shape: tuple[int | None, ...],
                rule: str = "values must be finite", *, positive: bool = False) -> np.ndarray:
    """A contiguous float64 array of `shape` (None: any length), all finite (and > 0 if
    `positive`), that shares no memory with `value`."""
    arr = as_numeric(value, name)
    if arr.size == 0 and len(shape) == 2 and shape[0] in (None, 0):
        arr = arr.reshape(0, shape[1])
    check_shape(arr, name, shape)
    out = owned(arr, value, np.float64)
    check_finite(out, name, rule)
    if positive:
        bad = out <= 0.0
        if bad.any():
            idx = tuple(np.argwhere(bad)[0])
            raise ConfigError(f"{_index(name, idx)} is {fmt(out[idx])}; values must be > 0")
    return out


def broadcast_float(value: Any, name: str, length: int, rule: str) -> np.ndarray:
    """A float64 array of `length` from a scalar or a (length,) array, all finite."""
    arr = as_numeric(value, name)
    if arr.ndim == 0:
        if not np.isfinite(arr):
            raise ConfigError(f"{name} is {fmt(arr)}; {rule}")
        return np.full(length, float(arr), dtype=np.float64)
    if arr.shape != (length,):
        raise ConfigError(f"{name} must be a scalar or have shape ({length},), got shape "
                          f"{arr.shape}")
    out = owned(arr, value, np.float64)
    check_finite(out, name, rule)
    return out


def int_array(value: Any, name: str, length: int | None = None) -> np.ndarray:
    """A 1-D integer array (int64 if converted; not yet int32) of `length` (None: any);
    floats must hold whole numbers."""
    arr = as_numeric(value, name)
    if arr.size == 0 and length in (None, 0):
        arr = arr.reshape(0)
    if arr.ndim != 1 or (length is not None and arr.shape[0] != length):
        want = "(n,)" if length is None else f"({length},)"
        raise ConfigError(f"{name} must have shape {want}, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (np.abs(arr) > 2.0**62)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConfigError(f"{name}[{i}] = {fmt(arr[i])} is not an integer")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    return arr


def check_int_range(arr: np.ndarray, name: str, hi: int, what: str) -> None:
    """Raise naming the first entry outside ``0 .. hi - 1``."""
    if arr.size == 0 or (arr.min() >= 0 and arr.max() < hi):
        return
    bad = (arr < 0) | (arr >= hi)
    i = int(np.flatnonzero(bad)[0])
    raise ConfigError(f"{name}[{i}] = {arr[i]} is out of range; {what}")
