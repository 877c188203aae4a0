"""Validation of measurement tables: every problem named by column and row."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["DataError", "validate"]


class DataError(ValueError):
    """A problem with the input data; the message names the column and, where it applies,
    the row."""


# Below these maxima a column almost certainly holds billions (or log10 values), not raw counts:
# the smallest published language-model ladders start near 1e6 parameters and 1e8 tokens.
_RAW_COUNT_FLOOR = {"N": 1e5, "D": 1e6, "C": 1e12, "U": 1e6}
_SCALE_HINT = {"N": "parameters", "D": "tokens", "C": "FLOPs", "U": "unique tokens"}


def _rows(mask: np.ndarray, index: pd.Index, limit: int = 5) -> str:
    labels = [repr(index[i]) for i in np.flatnonzero(mask)[:limit]]
    more = int(mask.sum()) - len(labels)
    return ", ".join(labels) + (f" (and {more} more)" if more > 0 else "")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    lower = {str(c).lower(): c for c in df.columns}
    hint = ""
    if name.lower() in lower:
        hint = f"; did you mean {lower[name.lower()]!r}? (names are case-sensitive)"
    else:
        close = difflib.get_close_matches(name, [str(c) for c in df.columns], n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
    raise DataError(f"missing column {name!r}: the table has {list(df.columns)}{hint}")


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    coerced = pd.to_numeric(series, errors="coerce")
    bad = coerced.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise DataError(
            f"column {name!r} is not numeric: row(s) {_rows(bad, series.index)} hold e.g. "
            f"{series.iloc[first]!r}"
        )
    return coerced.to_numpy(dtype=np.float64)


def validate(
    data: pd.DataFrame,
    inputs: Iterable[str],
    target: str,
    *,
    min_rows: int = 1,
    target_positive: bool = True,
) -> pd.DataFrame:
    """Check a measurement table and return a clean float64 copy of the needed columns.

    Args:
        data: The measurements, one row per training run.
        inputs: Input columns the law reads (raw counts: parameters, tokens, FLOPs...).
        target: The observed column (e.g. ``"loss"``).
        min_rows: Fewest rows the law can be fitted to.
        target_positive: Require a strictly positive target (losses are).

    Returns:
        A new DataFrame with exactly ``[*inputs, target]`` as float64, same index.

    Raises:
        DataError: naming the column and the rows of the first problem found.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")
    columns = [*inputs, target]
    out = {}
    for name in columns:
        values = _numeric(_column(data, name), name)
        missing = np.isnan(values)
        if missing.any():
            raise DataError(
                f"column {name!r} has missing/NaN values at row(s) {_rows(missing, data.index)}"
            )
        infinite = np.isinf(values)
        if infinite.any():
            raise DataError(
                f"column {name!r} has infinite values at row(s) {_rows(infinite, data.index)}"
            )
        if name in inputs or target_positive:
            nonpos = values <= 0
            if nonpos.any():
                raise DataError(
                    f"column {name!r} must be positive; row(s) {_rows(nonpos, data.index)} "
                    f"hold {values[nonpos][:3].tolist()}"
                )
        floor = _RAW_COUNT_FLOOR.get(name)
        if floor is not None and values.max() < floor:
            raise DataError(
                f"column {name!r} looks scaled (largest value {values.max():g}): bayescale "
                f"expects raw counts of {_SCALE_HINT[name]}, e.g. 7e10, not 70 (billions); "
                "multiply the column by its unit."
            )
        out[name] = values
    if len(data) < min_rows:
        raise DataError(
            f"too few rows: {len(data)} given, the law needs at least {min_rows} "
            f"(its parameters plus noise scale, plus one)"
        )
    for name in inputs:
        if np.unique(out[name]).size == 1 and len(data) > 1:
            raise DataError(
                f"column {name!r} has the same value ({out[name][0]:g}) in every row: the law "
                "cannot learn how loss changes with it"
            )
    return pd.DataFrame(out, index=data.index)
