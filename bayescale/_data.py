"""Validation of measurement tables: every problem named by column and row.

What :func:`validate` checks, in order (the first problem found raises :class:`DataError`, a
``ValueError`` whose message names the column and the rows; a :class:`DataWarning` is raised
for what may be legitimate):

=================================  =========================================================
input                              outcome
=================================  =========================================================
not a pandas DataFrame             converted when it is another DataFrame library's table
                                   (polars, pyarrow: ``to_pandas()``, the Arrow stream or the
                                   DataFrame interchange protocol); else DataError saying how
                                   to convert it
no rows / header only              DataError ("the table has no rows")
more than ``max_rows`` rows         DataError (default 1,000,000: a scaling-law table is one
                                   row per training run; aggregate or subsample per-step logs)
missing / misspelled column        DataError with a "did you mean" hint (case, whitespace,
                                   close spelling)
duplicated column name             DataError
strings in a numeric column        DataError naming the rows and a bad value
complex numbers                    DataError (the imaginary part is never dropped silently)
NaN / None / inf                   DataError naming the rows (or dropped and reported when
                                   ``dropna=True``)
zero or negative input             DataError (inputs are counts); also for the target when
                                   ``target_positive`` (losses are)
counts in billions / log10         DataError when a count column (N, D, C, U) never reaches a
                                   raw count (its largest value below 1e5 params, 1e6 tokens,
                                   1e12 FLOPs)
values no training run has         DataError above a plausible upper bound (below), after
                                   ``units``: ``units={"N": 1e9}`` applied to raw counts, FLOPs
                                   in the ``N`` column, 1e300. Raise a bound with
                                   ``max_values={"N": 1e16}`` (or ``data.attrs["max_values"]``,
                                   which :func:`bayescale.fit` honours; ``--max`` on the
                                   command line); ``math.inf`` turns it off
mixed units within a column        DataError when the sorted values of a count column jump by
                                   more than 5 decades (e.g. some rows in billions); with
                                   ``group``, names the group whose values sit apart
one row / fewer than ``min_rows``  DataError
all-identical input                DataError ("the law cannot learn how loss changes with it")
inputs perfectly collinear         DataWarning (e.g. D = 20 N in every row: exponents of N and D
                                   are not separately identifiable)
duplicated rows                    DataWarning naming the rows; they are kept (identical
                                   repeated runs are legitimate replicates) unless
                                   ``drop_duplicates=True``, which drops and reports them
loss in bits / perplexity          DataWarning (heuristic): a column name or ``attrs`` mentioning
                                   bits (``bits``, ``bpb``, ``bpc``, ``log2``), or a loss above 20
                                   (looks like perplexity); declare ``units={"loss": math.log(2)}``
                                   to convert bits to nats
=================================  =========================================================

Nothing is dropped unless asked; every drop is reported by a :class:`DataWarning` and recorded in
``attrs["dropped"]`` of the returned table. Declared units (``units={"D": 1e9}``: the column holds
billions) are multiplied in before any check.

Plausible upper bounds (:data:`PLAUSIBLE_MAX`), in raw units, about three decades above the
largest published training runs (~2e12 parameters, ~4e13 tokens, ~5e26 FLOPs, ~1e7 steps):

=======================  ==========  ===================================
column                   bound       unit
=======================  ==========  ===================================
``N``                    1e15        parameters
``D``, ``U``             1e17        tokens (unique tokens for ``U``)
``C``, ``C_train``,      1e30        FLOPs
``C_test``
``S``                    1e10        optimizer steps
``B``                    1e10        batch size (tokens or sequences)
=======================  ==========  ===================================
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import BayescaleWarning, DataError, InvalidTypeError, InvalidValueError

if TYPE_CHECKING:
    from ._law import Law

__all__ = ["DataError", "DataWarning", "validate", "validate_for_law", "read_table", "MAX_ROWS"]


class DataWarning(BayescaleWarning):
    """Something in the data that may be legitimate but often is a mistake (duplicated rows,
    loss in bits, collinear inputs), or a drop the caller asked for."""


# Below these maxima a column almost certainly holds billions (or log10 values), not raw counts:
# the smallest published language-model ladders start near 1e6 parameters and 1e8 tokens.
_RAW_COUNT_FLOOR = {"N": 1e5, "D": 1e6, "C": 1e12, "U": 1e6}
_SCALE_HINT = {"N": "parameters", "D": "tokens", "C": "FLOPs", "U": "unique tokens"}
# Above these no training run has been (see the module docstring): a value beyond is a unit
# error (units={"N": 1e9} on raw counts), another quantity in the column (FLOPs as N), or junk.
PLAUSIBLE_MAX = {
    "N": 1e15,
    "D": 1e17,
    "U": 1e17,
    "C": 1e30,
    "C_train": 1e30,
    "C_test": 1e30,
    "S": 1e10,
    "B": 1e10,
}
_BOUND_HINT = {
    "N": "parameters (the largest models have ~2e12)",
    "D": "tokens (the largest runs train on ~4e13)",
    "U": "unique tokens (the largest corpora hold ~1e14)",
    "C": "FLOPs (the largest runs used ~5e26)",
    "C_train": "FLOPs (the largest runs used ~5e26)",
    "C_test": "FLOPs",
    "S": "optimizer steps (the longest runs take ~1e7)",
    "B": "batch size",
}
# Sorted values of a count column jumping by more than this many decades: mixed units (raw vs
# millions/billions). Real ladders are dense in log scale (steps of < 1 decade).
_UNIT_GAP_DECADES = 5.0
# A table of one row per training run; beyond this it is per-step logs or a mistake, and NUTS
# would need minutes per likelihood evaluation sweep.
MAX_ROWS = 1_000_000
# Language-model cross-entropy in nats is below ~12 (log of a 150k vocabulary); above 20 the
# column is almost surely a perplexity.
_PERPLEXITY_HINT = 20.0
_BITS_PATTERN = re.compile(r"(bits?\b|bits?_|_bits?|\bbp[bc]\b|bp[bc]_|_bp[bc]|log2)", re.I)
# Group columns hold integer codes (the hierarchical model converts labels before validating).
_GROUP_NAMES = ("group",)


def _label(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _rows(mask: np.ndarray, index: pd.Index, limit: int = 5) -> str:
    labels = [_label(index[i]) for i in np.flatnonzero(mask)[:limit]]
    more = int(mask.sum()) - len(labels)
    return ", ".join(labels) + (f" (and {more} more)" if more > 0 else "")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        if not df.columns.is_unique and int(np.sum(df.columns == name)) > 1:
            raise DataError(f"column {name!r} appears more than once in the table")
        return df[name]
    lower = {str(c).lower(): c for c in df.columns}
    stripped = {str(c).strip(): c for c in df.columns}
    hint = ""
    if name in stripped:
        hint = f"; did you mean {stripped[name]!r}? (strip the whitespace from the header)"
    elif name.lower() in lower:
        hint = f"; did you mean {lower[name.lower()]!r}? (names are case-sensitive)"
    else:
        close = difflib.get_close_matches(name, [str(c) for c in df.columns], n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
    raise DataError(f"missing column {name!r}: the table has {list(df.columns)}{hint}")


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_complex_dtype(series):
        raise DataError(_complex_message(name, series))
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"column {name!r} holds booleans (True/False), not numbers")
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        raise DataError(f"column {name!r} holds dates or durations ({series.dtype}), not numbers")
    if pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)  # the common case, fast
    coerced = pd.to_numeric(series, errors="coerce")
    if pd.api.types.is_complex_dtype(coerced):
        raise DataError(_complex_message(name, coerced))
    bad = coerced.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise DataError(
            f"column {name!r} is not numeric: row(s) {_rows(bad, series.index)} hold e.g. "
            f"{series.iloc[first]!r}"
        )
    return coerced.to_numpy(dtype=np.float64)


def _complex_message(name: str, series: pd.Series) -> str:
    values = series.to_numpy().astype(complex)
    imaginary = np.imag(values) != 0
    where = "all imaginary parts are 0"
    if imaginary.any():
        first = complex(values[np.flatnonzero(imaginary)[0]])
        where = f"row(s) {_rows(imaginary, series.index)} have an imaginary part, e.g. {first:g}"
    return (
        f"column {name!r} holds complex numbers ({where}); bayescale fits real numbers: pass "
        "the real values (np.real(...) if the imaginary parts are rounding)"
    )


def as_pandas(data: Any) -> pd.DataFrame:
    """``data`` as a pandas DataFrame: as it is, or converted from another DataFrame library's
    table (``to_pandas()``: polars, pyarrow; the Arrow C stream; the DataFrame interchange
    protocol); else a DataError saying how to convert it."""
    if isinstance(data, pd.DataFrame):
        return data
    kind = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    try:
        if callable(getattr(data, "to_pandas", None)):
            out = data.to_pandas()
        elif hasattr(data, "__arrow_c_stream__"):
            import pyarrow as pa

            out = pa.table(data).to_pandas()
        elif hasattr(data, "__dataframe__"):
            with warnings.catch_warnings():  # pandas deprecates the protocol, not its users
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                out = pd.api.interchange.from_dataframe(data)
        else:
            out = None
    except Exception as err:  # noqa: BLE001 -- any conversion failure: say how to convert
        raise DataError(
            f"could not convert the {kind} table to a pandas DataFrame ({type(err).__name__}: "
            f"{err}); convert it yourself, e.g. table.to_pandas()"
        ) from err
    if isinstance(out, pd.DataFrame):
        return out
    hint = "pd.DataFrame(data)" if isinstance(data, Mapping | list) else "a pandas DataFrame"
    if isinstance(data, str | os.PathLike):
        hint = "the table: read a file with bayescale.read_table(path)"
    raise DataError(
        f"expected a table (a pandas DataFrame, or a polars/pyarrow table), got {kind}; pass {hint}"
    )


def _check_plausible(name: str, values: np.ndarray, index: pd.Index, bound: float) -> None:
    """A DataError for values above the plausible ``bound`` of column ``name``."""
    high = values > bound
    if not high.any():
        return
    unit = _BOUND_HINT.get(name, "units")
    raised = f"{10 * values.max():.0e}"

    def message(units: str, raise_bound: str) -> str:
        return (
            f"column {name!r} holds {values[high].max():g} at row(s) {_rows(high, index)}: "
            f"above {bound:g} {unit}, more than any training run. Check the unit ({units} on "
            f"raw counts?) and that the column holds {_SCALE_HINT.get(name, name)}, not "
            f"another quantity (FLOPs in N?). If the values are right, raise the bound: "
            f"{raise_bound}."
        )

    raise DataError(
        message(
            f"units={{{name!r}: 1e9}}",
            f"max_values={{{name!r}: {raised}}} (validate, read_table), "
            f"data.attrs['max_values'] = {{...}} (fit), or --max {name}=... (command line)",
        ),
        cli_message=message(f"--units {name}=1e9", f"--max {name}={raised}"),
    )


def _bounds(data: pd.DataFrame, max_values: Mapping[str, float] | None) -> dict[str, float]:
    """The plausible upper bounds in force: the defaults, then ``data.attrs["max_values"]``
    (kept by a table validated with raised bounds), then ``max_values``."""
    bounds = dict(PLAUSIBLE_MAX)
    for source in (data.attrs.get("max_values"), max_values):
        if source is None:
            continue
        if not isinstance(source, Mapping):
            raise DataError(f"max_values must map column names to bounds, got {source!r}")
        for name, bound in source.items():
            if not (is_real_number(bound) and bound > 0 and not math.isnan(bound)):
                raise DataError(
                    f"max_values[{name!r}] must be a positive number (math.inf: no bound), got "
                    f"{bound!r}"
                )
            bounds[name] = float(bound)
    return bounds


def check_distinct_labels(labels: Iterable[Any], column: str) -> None:
    """Raise a DataError when two different group labels print the same (``1`` and ``"1"``,
    ``1.0`` and ``"1.0"``): as separate groups they would be shown, and named in forecasts,
    as one.

    Args:
        labels: The distinct labels of a group column.
        column: The column's name, for the message.
    """
    seen: dict[str, Any] = {}
    for label in labels:
        value = label.item() if isinstance(label, np.generic) else label
        text = str(value)
        if text in seen and type(seen[text]) is not type(value):
            # named in a fixed order (the labels may come from a set, whose order varies)
            first, second = sorted((seen[text], value), key=lambda v: type(v).__name__)
            raise DataError(
                f"group column {column!r} holds labels {first!r} ({type(first).__name__}) and "
                f"{second!r} ({type(second).__name__}), different values that print the same: "
                f"give the column one type, e.g. data[{column!r}].astype(str)"
            )
        seen.setdefault(text, value)


def is_real_number(value: object) -> bool:
    """A real number (Python or NumPy scalar), not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


#: The interval probability every summary, forecast, allocation and plan uses unless told.
DEFAULT_LEVEL = 0.9


def check_level(level: Any) -> float:
    """``level`` as a float, checked to be a probability in (0, 1).

    Raises:
        ValueError: for anything else (``"0.9"``, 95, 1.0).
    """
    if not (is_real_number(level) and 0.0 < level < 1.0):
        raise InvalidValueError(f"level must be a probability in (0, 1), e.g. 0.9, got {level!r}")
    return float(level)


def check_flops_per_param_token(k: Any) -> float:
    """``k`` of ``C = k N D`` as a float, checked to be finite and positive.

    Raises:
        ValueError: for anything else.
    """
    if not (is_real_number(k) and math.isfinite(k) and k > 0):
        raise InvalidValueError(
            f"flops_per_param_token must be a finite positive number (6 for C = 6 N D), got {k!r}"
        )
    return float(k)


# Seeds become a JAX PRNG key from a signed 64-bit integer.
SEED_LIMIT = 2**63


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as an ``int``, checked to be a whole number in ``[0, 2**63)``.

    Raises:
        TypeError: for a value that is not an integer (a float such as 1.5, a string, a bool).
        ValueError: for a negative seed or one of 2**63 or more.
    """
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise InvalidTypeError(
            f"{name} must be an integer in [0, 2**63), e.g. {name}=0; got {seed!r} "
            f"({type(seed).__name__})"
        )
    if not 0 <= int(seed) < SEED_LIMIT:
        raise InvalidValueError(f"{name} must be an integer in [0, 2**63), got {int(seed)}")
    return int(seed)


def _warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=4)


def _check_unit_gap(name: str, values: np.ndarray, index: pd.Index, groups) -> None:
    """Mixed units in one count column: a jump of more than 5 decades between sorted values."""
    logs = np.log10(values)
    order = np.sort(np.unique(logs))
    if order.size < 2:
        return
    gaps = np.diff(order)
    k = int(np.argmax(gaps))
    if gaps[k] <= _UNIT_GAP_DECADES:
        return
    low = logs <= order[k]
    where = f"row(s) {_rows(low, index)}"
    if groups is not None:
        g_low = sorted(set(groups[low].tolist()))
        g_high = sorted(set(groups[~low].tolist()))
        where = f"group(s) {g_low} (rows {_rows(low, index)}) vs group(s) {g_high}"
        if set(g_low) & set(g_high):
            where += " (within a group too)"
        head = f"mixed units across groups in column {name!r}"
    else:
        head = f"mixed units in column {name!r}"
    raise DataError(
        f"{head}: values jump from {10 ** order[k]:g} to {10 ** order[k + 1]:g} "
        f"({gaps[k]:.1f} decades); {where} look like a different unit (billions? log10?). "
        f"Convert them to raw {_SCALE_HINT.get(name, 'counts')}."
    )


def _loss_unit_hints(data: pd.DataFrame, target: str, values: np.ndarray, declared: bool):
    if declared:
        return
    names = [str(c) for c in data.columns] + [
        f"{k}={v}" for k, v in data.attrs.items() if "unit" in str(k).lower()
    ]
    hits = [n for n in names if _BITS_PATTERN.search(n)]
    if hits:
        _warn(
            f"column {target!r}: the table mentions bits ({hits[:3]}); bayescale's priors and "
            "published comparisons are in nats. If the loss is in bits, declare "
            f"units={{{target!r}: math.log(2)}} (nats = bits x ln 2)."
        )
    big = values > _PERPLEXITY_HINT
    if big.any():
        _warn(
            f"column {target!r} holds values above {_PERPLEXITY_HINT:g} at row(s) "
            f"{_rows(big, data.index)}: this looks like perplexity, not cross-entropy loss; "
            "pass np.log(perplexity) (nats)."
        )


def validate(
    data: pd.DataFrame,
    inputs: Iterable[str],
    target: str,
    *,
    min_rows: int = 1,
    target_positive: bool = True,
    group: str | None = None,
    units: Mapping[str, float] | None = None,
    drop_duplicates: bool = False,
    dropna: bool = False,
    max_rows: int = MAX_ROWS,
    max_values: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Check a measurement table and return a clean float64 copy of the needed columns.

    The full list of checks is in this module's docstring; every failure names the column and
    the rows (index labels of ``data``).

    Args:
        data: The measurements, one row per training run.
        inputs: Input columns the law reads (raw counts: parameters, tokens, FLOPs...). An input
            named ``"group"`` holds integer group codes (not checked for positivity or scale).
        target: The observed column (e.g. ``"loss"``).
        min_rows: Fewest rows the law can be fitted to.
        target_positive: Require a strictly positive target (losses are).
        group: Optional column of integer group codes; kept in the output and used to name the
            group when units look mixed across groups.
        units: Declared units, multiplied in before the checks: ``{"D": 1e9}`` when the column
            holds billions of tokens, ``{"loss": math.log(2)}`` for a loss in bits.
        drop_duplicates: Drop rows whose needed columns repeat an earlier row (reported by a
            :class:`DataWarning`); by default they are kept and warned about.
        dropna: Drop rows with a missing/NaN/inf value in a needed column (reported);
            by default they are an error.
        max_rows: Largest table accepted.
        max_values: Raised (or lowered) plausible upper bounds per column, in raw units after
            ``units``, e.g. ``{"N": 1e16}``; ``math.inf`` removes a bound. Defaults:
            :data:`PLAUSIBLE_MAX` (see the module docstring); ``data.attrs["max_values"]``
            applies too, so a table validated with raised bounds passes again in
            :func:`bayescale.fit`.

    Returns:
        A new DataFrame with exactly ``[*inputs, target]`` (plus ``group``) as float64, same
        index; ``attrs["dropped"]`` lists the rows dropped on request (empty otherwise), and
        ``attrs["max_values"]`` the bounds raised from their defaults.

    Raises:
        DataError: naming the column and the rows of the first problem found.
    """
    data = as_pandas(data)
    bounds = _bounds(data, max_values)
    inputs = list(inputs)
    units = dict(units or {})
    columns = [*inputs, target] + ([group] if group and group not in inputs else [])
    unknown = set(units) - set(columns)
    if unknown:
        raise DataError(f"units declared for column(s) {sorted(unknown)} the law does not read")
    for name, factor in units.items():
        if not (is_real_number(factor) and math.isfinite(factor) and factor > 0):
            raise DataError(f"units[{name!r}] must be a positive finite number, got {factor!r}")
    if len(data) == 0:
        raise DataError(f"the table has no rows (columns {list(data.columns)})")
    if len(data) > max_rows:
        raise DataError(
            f"the table has {len(data):,} rows, more than max_rows={max_rows:,}: a scaling-law "
            "table holds one row per training run; aggregate per-step logs (e.g. the final "
            "loss of each run) or subsample, or raise max_rows."
        )
    raw = {name: _numeric(_column(data, name), name) for name in columns}
    index = data.index
    dropped: list = []
    if dropna:
        bad = np.zeros(len(data), bool)
        for values in raw.values():
            bad |= ~np.isfinite(values)
        if bad.any():
            dropped = list(index[bad])
            _warn(f"dropped {int(bad.sum())} row(s) with missing/non-finite values: {dropped}")
            raw = {k: v[~bad] for k, v in raw.items()}
            index = index[~bad]
    group_codes = None
    out = {}
    for name in columns:
        values = raw[name] * units.get(name, 1.0)
        missing = np.isnan(values)
        if missing.any():
            found = f"column {name!r} has missing/NaN values at row(s) {_rows(missing, index)}"
            raise DataError(
                f"{found} (pass dropna=True to drop these rows)",
                cli_message=f"{found} (pass --dropna to drop these rows)",
            )
        infinite = np.isinf(values)
        if infinite.any():
            raise DataError(
                f"column {name!r} has infinite values at row(s) {_rows(infinite, index)}"
            )
        if name in _GROUP_NAMES or name == group:
            frac = values != np.round(values)
            if frac.any():
                raise DataError(
                    f"column {name!r} must hold integer group codes; row(s) {_rows(frac, index)} "
                    f"hold {values[frac][:3].tolist()}"
                )
            group_codes = values.astype(np.int64)
            out[name] = values
            continue
        if name in inputs or target_positive:
            nonpos = values <= 0
            if nonpos.any():
                raise DataError(
                    f"column {name!r} must be positive; row(s) {_rows(nonpos, index)} "
                    f"hold {values[nonpos][:3].tolist()}"
                )
        if name in inputs and name in bounds:
            _check_plausible(name, values, index, bounds[name])
        out[name] = values
    if len(index) < min_rows:
        raise DataError(
            f"too few rows: {len(index)} given, the law needs at least {min_rows} "
            f"(its parameters plus noise scale, plus one)"
        )
    for name in inputs:
        floor = _RAW_COUNT_FLOOR.get(name)
        if floor is None:
            continue
        values = out[name]
        if values.max() < floor:
            found = (
                f"column {name!r} looks scaled (largest value {values.max():g}): bayescale "
                f"expects raw counts of {_SCALE_HINT[name]}, e.g. 7e10, not 70 (billions); "
                "multiply the column by its unit, or declare"
            )
            raise DataError(
                f"{found} units={{{name!r}: 1e9}}.", cli_message=f"{found} --units {name}=1e9."
            )
        _check_unit_gap(name, values, index, group_codes)
    for name in inputs:
        if name in _GROUP_NAMES:
            continue
        if np.unique(out[name]).size == 1 and len(index) > 1:
            raise DataError(
                f"column {name!r} has the same value ({out[name][0]:g}) in every row: the law "
                "cannot learn how loss changes with it"
            )
    numeric_inputs = [k for k in inputs if k not in _GROUP_NAMES and k != group]
    for i, a in enumerate(numeric_inputs):
        for b in numeric_inputs[i + 1 :]:
            la, lb = np.log(out[a]), np.log(out[b])
            if len(index) > 2 and np.std(la) > 0 and np.std(lb) > 0:
                r = np.corrcoef(la, lb)[0, 1]
                if abs(r) > 1 - 1e-9:
                    _warn(
                        f"columns {a!r} and {b!r} are perfectly collinear in log scale (e.g. "
                        f"a fixed {b}/{a} ratio): their separate effects are not identifiable; "
                        "add runs off that line"
                    )
    frame = pd.DataFrame(out, index=index)
    key = frame[[*inputs, target]]
    dup = key.duplicated(keep="first").to_numpy()
    if dup.any():
        if drop_duplicates:
            dropped += list(index[dup])
            _warn(
                f"dropped {int(dup.sum())} duplicated row(s) (same {[*inputs, target]} as an "
                f"earlier row): {list(index[dup])}"
            )
            frame = frame.loc[~dup]
        else:
            _warn(
                f"row(s) {_rows(dup, index)} repeat an earlier row exactly in columns "
                f"{[*inputs, target]}; kept as replicate runs. If they are copies, pass "
                "drop_duplicates=True (the drop is reported)."
            )
    if "loss" in target.lower():  # the bits/perplexity hints are about cross-entropy loss
        _loss_unit_hints(data, target, out[target], declared=target in units)
    frame.attrs["dropped"] = dropped
    raised = {k: v for k, v in bounds.items() if v != PLAUSIBLE_MAX.get(k)}
    if raised:
        frame.attrs["max_values"] = raised
    return frame


def validate_for_law(data: pd.DataFrame, law: Law, **kwargs: Any) -> pd.DataFrame:
    """:func:`validate` with the columns, row minimum and positivity a :class:`Law` needs.

    Args:
        data: The measurements.
        law: The law to be fitted.
        **kwargs: Further arguments of :func:`validate` (``units``, ``dropna``,
            ``drop_duplicates``, ``max_rows``).
    """
    return validate(
        data,
        law.inputs,
        law.target,
        min_rows=law.min_rows,
        target_positive=law.link == "log",
        **kwargs,
    )


def _text_hint(path: str, kind: str) -> str:
    """A hint for a text table pandas read wrongly: comment lines starting with ``#``, or
    another separator than the one expected (``;`` with decimal commas, tabs); else ""."""
    if kind == "parquet":
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [line.rstrip("\r\n") for line in fh.readlines(8192)]
    except OSError:
        return ""
    lines = [line for line in head if line.strip()]
    if not lines:
        return ""
    if any(line.lstrip().startswith("#") for line in lines[:5]):
        return (
            "; hint: lines starting with '#' look like comments, which a table file cannot "
            "hold: remove them (or read the file with pd.read_csv(path, comment='#') and pass "
            "the table)"
        )
    sep = "\t" if kind == "tsv" else ","
    header = lines[0]
    for other, name in ((";", "';'"), ("\t", "tab"), (",", "','"), ("|", "'|'")):
        if other != sep and other in header and sep not in header:
            decimal = ""
            if other == ";" and re.search(r"\d,\d", " ".join(lines)):
                decimal = ", decimal=','"
            expected = "tab" if kind == "tsv" else repr(sep)
            return (
                f"; hint: the header {header[:60]!r} looks {name}-separated, not "
                f"{expected}-separated: save the file comma-separated (.csv) or tab-separated "
                f"(.tsv), or read it with pd.read_csv(path, sep={other!r}{decimal}) and pass "
                "the table"
            )
    return ""


_READERS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(
    path: str | os.PathLike,
    inputs: Iterable[str] | None = None,
    target: str | None = None,
    *,
    law: Law | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet table of measurements and validate it on the way in.

    Args:
        path: A ``.csv``, ``.tsv``, ``.txt`` (comma-separated) or ``.parquet`` file.
        inputs: Input columns to validate (default: the law's, when ``law`` is given).
        target: Target column (default: the law's target, else ``"loss"``).
        law: A :class:`bayescale.Law`; supplies inputs, target, ``min_rows`` and positivity.
        **kwargs: Passed to :func:`validate` (``units``, ``group``, ``drop_duplicates``,
            ``dropna``, ``max_rows``, ``min_rows``).

    Returns:
        The validated table (see :func:`validate`) when inputs are known, else the table as
        read (checked to be non-empty). ``attrs["source"]`` holds the path. Row labels are
        0-based data rows: row r is line r + 2 of a CSV file with a header.

    Raises:
        DataError: unreadable, empty or malformed file, or any problem :func:`validate` finds;
            the message starts with the path.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    kind = _READERS.get(suffix)
    if kind is None:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use one of {sorted(_READERS)}")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty")
    try:
        if kind == "parquet":
            try:
                df = pd.read_parquet(path)
            except ImportError as err:
                raise DataError(
                    f"{path}: reading Parquet needs pyarrow (pip install pyarrow): {err}"
                ) from err
        else:
            df = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except DataError:
        raise
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path}: the file is empty ({err})") from err
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise DataError(
            f"{path}: unreadable as {kind} ({type(err).__name__}: {err}){_text_hint(path, kind)}"
        ) from err
    if len(df) == 0:
        raise DataError(
            f"{path}: the file has a header {list(df.columns)} but no rows{_text_hint(path, kind)}"
        )
    if law is not None:
        inputs = law.inputs if inputs is None else inputs
        target = law.target if target is None else target
        kwargs.setdefault("min_rows", law.min_rows)
        kwargs.setdefault("target_positive", law.link == "log")
    if inputs is not None:
        try:
            df = validate(df, inputs, target or "loss", **kwargs)
        except DataError as err:
            line = " (row r is line r + 2 of the file)" if kind != "parquet" else ""
            raise err.within(f"{path}: ", f"{line}{_text_hint(path, kind)}") from None
    df.attrs["source"] = path
    return df
