"""Bad input, sampler faults and saved files: each problem surfaces with a clear message.

The table of bad inputs (``BAD_INPUTS``) is the documented behaviour of
:func:`bayescale.validate` (see ``bayescale/_data.py``): one parametrised test per row, each
checking the error class and that the message names the column and the row(s).
"""

from __future__ import annotations

import math
import os
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._diagnostics import (
    BFMI_MIN,
    ConvergenceWarning,
    PriorWarning,
    check_convergence,
    check_draws,
    convergence_table,
)

INPUTS, TARGET = ["N", "D"], "loss"


def _good(n: int = 12) -> pd.DataFrame:
    """A valid Chinchilla-like table: N, D raw counts, loss in nats."""
    rng = np.random.default_rng(0)
    N = np.geomspace(7e7, 1.6e10, n)
    D = np.geomspace(5e9, 5e11, n)[rng.permutation(n)]
    loss = 1.82 + 482.0 / N**0.35 + 2085.0 / D**0.37
    return pd.DataFrame({"N": N, "D": D, "loss": loss})


def _set(col, row, value):
    def mutate(df):
        df = df.astype({col: object}) if isinstance(value, str) or value is None else df
        df.loc[row, col] = value
        return df

    return mutate


def _mixed_billions(df):
    df = df.copy()
    df.loc[[0, 1, 2], "D"] = df.loc[[0, 1, 2], "D"] / 1e9
    return df


def _with_attrs(**attrs):
    def mutate(df):
        df = df.copy()
        df.attrs.update(attrs)
        return df

    return mutate


# (id, mutation of the good table, expected: DataError or DataWarning, regex the message matches,
#  extra validate kwargs)
BAD_INPUTS = [
    ("missing column", lambda d: d.drop(columns="D"), bs.DataError, r"missing column 'D'", {}),
    (
        "misspelled case",
        lambda d: d.rename(columns={"D": "d"}),
        bs.DataError,
        r"missing column 'D'.*did you mean 'd'\? \(names are case-sensitive\)",
        {},
    ),
    (
        "misspelled close",
        lambda d: d.rename(columns={"loss": "los"}),
        bs.DataError,
        r"missing column 'loss'.*did you mean 'los'",
        {},
    ),
    (
        "header whitespace",
        lambda d: d.rename(columns={"N": " N"}),
        bs.DataError,
        r"missing column 'N'.*did you mean ' N'\? \(strip the whitespace",
        {},
    ),
    (
        "duplicated column name",
        lambda d: pd.concat([d, d[["N"]]], axis=1),
        bs.DataError,
        r"column 'N' appears more than once",
        {},
    ),
    (
        "string in numeric column",
        _set("N", 3, "7B"),
        bs.DataError,
        r"column 'N' is not numeric: row\(s\) 3 hold e.g. '7B'",
        {},
    ),
    (
        "thousands separator",
        _set("D", 5, "1,000,000,000"),
        bs.DataError,
        r"column 'D' is not numeric: row\(s\) 5",
        {},
    ),
    (
        "boolean column",
        lambda d: d.assign(N=d["N"] > 1e9),
        bs.DataError,
        r"column 'N' holds booleans",
        {},
    ),
    ("NaN", _set("loss", 4, np.nan), bs.DataError, r"column 'loss' has missing/NaN .* 4", {}),
    ("None", _set("D", 7, None), bs.DataError, r"column 'D' has missing/NaN .* 7", {}),
    ("inf", _set("N", 2, np.inf), bs.DataError, r"column 'N' has infinite values .* 2", {}),
    ("-inf", _set("loss", 9, -np.inf), bs.DataError, r"column 'loss' has infinite .* 9", {}),
    ("zero input", _set("D", 5, 0.0), bs.DataError, r"column 'D' must be positive; .* 5", {}),
    ("negative input", _set("N", 1, -7e9), bs.DataError, r"column 'N' must be positive.* 1", {}),
    ("zero loss", _set("loss", 6, 0.0), bs.DataError, r"column 'loss' must be positive.* 6", {}),
    (
        "one row",
        lambda d: d.iloc[:1],
        bs.DataError,
        r"too few rows: 1 given, the law needs at least 7",
        {"min_rows": chinchilla.min_rows},
    ),
    (
        "all-identical x",
        lambda d: d.assign(N=7e9),
        bs.DataError,
        r"column 'N' has the same value \(7e\+09\) in every row",
        {},
    ),
    (
        "tokens in billions",
        lambda d: d.assign(D=d["D"] / 1e9),
        bs.DataError,
        r"column 'D' looks scaled .*units=\{'D': 1e9\}",
        {},
    ),
    (
        "params as log10",
        lambda d: d.assign(N=np.log10(d["N"])),
        bs.DataError,
        r"column 'N' looks scaled",
        {},
    ),
    (
        "mixed units in a column",
        _mixed_billions,
        bs.DataError,
        r"mixed units in column 'D'.*row\(s\) 0, 1, 2 look like a different unit",
        {},
    ),
    (
        "mixed units across groups",
        lambda d: _mixed_billions(d.assign(group=[1, 1, 1] + [2] * 9)),
        bs.DataError,
        r"mixed units across groups in column 'D'.*group\(s\) \[1\] \(rows 0, 1, 2\)",
        {"group": "group"},
    ),
    (
        "group codes not integer",
        lambda d: d.assign(group=1.5),
        bs.DataError,
        r"column 'group' must hold integer group codes",
        {"group": "group"},
    ),
    ("empty table", lambda d: d.iloc[:0], bs.DataError, r"the table has no rows", {}),
    (
        "huge table",
        lambda d: d,
        bs.DataError,
        r"the table has 12 rows, more than max_rows=11",
        {"max_rows": 11},
    ),
    (
        "not a DataFrame",
        lambda d: d.to_dict(),
        bs.DataError,
        r"expected a table \(a pandas DataFrame.*pass pd.DataFrame\(data\)",
        {},
    ),
    (
        "duplicated rows",
        lambda d: pd.concat([d, d.iloc[[3]]], ignore_index=True),
        bs.DataWarning,
        r"row\(s\) 12 repeat an earlier row exactly .* kept as replicate runs",
        {},
    ),
    (
        "collinear inputs",
        lambda d: d.assign(D=20 * d["N"]),
        bs.DataWarning,
        r"columns 'N' and 'D' are perfectly collinear",
        {},
    ),
    (
        "loss in bits (column name)",
        lambda d: d.assign(loss_bits=d["loss"] / math.log(2)),
        bs.DataWarning,
        r"column 'loss': the table mentions bits \(\['loss_bits'\]\)",
        {},
    ),
    (
        "loss in bits (declared in attrs)",
        _with_attrs(loss_unit="bits"),
        bs.DataWarning,
        r"column 'loss': the table mentions bits",
        {},
    ),
    (
        "perplexity, not loss",
        lambda d: d.assign(loss=np.exp(d["loss"] + 1.0)),
        bs.DataWarning,
        r"column 'loss' holds values above 20 at row\(s\) 0.*perplexity",
        {},
    ),
    (
        "units for an unknown column",
        lambda d: d,
        bs.DataError,
        r"units declared for column\(s\) \['T'\]",
        {"units": {"T": 1e9}},
    ),
    (
        "units given as a boolean",
        lambda d: d,
        bs.DataError,
        r"units\['N'\] must be a positive finite number, got True",
        {"units": {"N": True}},
    ),
    (
        "datetime column",
        lambda d: d.assign(N=pd.date_range("2024-01-01", periods=len(d))),
        bs.DataError,
        r"column 'N' holds dates or durations \(datetime64",
        {},
    ),
    (
        "units of billions applied to raw counts",
        lambda d: d,
        bs.DataError,
        r"column 'N' holds 1\.6e\+19 at row\(s\) 0, 1, .*: above 1e\+15 parameters .*"
        r"units=\{'N': 1e9\} on raw counts\?",
        {"units": {"N": 1e9}},
    ),
    (
        "FLOPs in the N column",
        lambda d: d.assign(N=6 * d["N"] * d["D"]),
        bs.DataError,
        r"column 'N' holds .* above 1e\+15 parameters.*FLOPs in N\?",
        {},
    ),
    (
        "a value near 1e300",
        _set("D", 3, 1e300),
        bs.DataError,
        r"column 'D' holds 1e\+300 at row\(s\) 3: above 1e\+17 tokens.*raise the bound",
        {},
    ),
    (
        "complex loss with imaginary parts",
        lambda d: d.assign(loss=d["loss"] + 0.5j),
        bs.DataError,
        r"column 'loss' holds complex numbers \(row\(s\) 0, 1, .* imaginary part",
        {},
    ),
    (
        "complex input with zero imaginary parts",
        lambda d: d.assign(N=d["N"].astype(complex)),
        bs.DataError,
        r"column 'N' holds complex numbers \(all imaginary parts are 0\)",
        {},
    ),
    (
        "complex numbers in an object column",
        lambda d: d.assign(loss=d["loss"].astype(object) + 1j),
        bs.DataError,
        r"column 'loss' holds complex numbers",
        {},
    ),
    (
        "a bound that is not a number",
        lambda d: d,
        bs.DataError,
        r"max_values\['N'\] must be a positive number \(math.inf: no bound\), got 'big'",
        {"max_values": {"N": "big"}},
    ),
]


@pytest.mark.parametrize(
    "mutate, expected, match, kwargs",
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_table(mutate, expected, match, kwargs):
    data = mutate(_good())
    if issubclass(expected, Warning):
        with pytest.warns(expected, match=match):
            out = bs.validate(data, INPUTS, TARGET, **kwargs)
        assert len(out) == len(data), "a warning must never drop rows"
    else:
        with pytest.raises(expected, match=match) as info:
            bs.validate(data, INPUTS, TARGET, **kwargs)
        assert isinstance(info.value, ValueError)


def test_good_table_passes_silently_and_keeps_everything():
    data = _good()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = bs.validate(data, INPUTS, TARGET, min_rows=chinchilla.min_rows)
    assert list(out.columns) == [*INPUTS, TARGET]
    assert out.index.equals(data.index)
    np.testing.assert_array_equal(out.to_numpy(), data[[*INPUTS, TARGET]].to_numpy())
    assert out.attrs["dropped"] == []


@pytest.mark.parametrize("dtype", ["int64", "Int64", "Float64", "float32", "object"])
def test_every_numeric_dtype_reads_the_same(dtype):
    """Plain, nullable and object columns give the same float64 values, and a nullable
    column's missing value is reported like NaN."""
    data = _good()
    data["D"] = data["D"].round()
    converted = data.assign(D=data["D"].astype(dtype))
    out = bs.validate(converted, INPUTS, TARGET, min_rows=chinchilla.min_rows)
    np.testing.assert_array_equal(out["D"].to_numpy(), data["D"].astype(dtype).astype(float))
    assert out["D"].dtype == np.float64
    if dtype in ("Int64", "Float64", "object"):
        converted.loc[3, "D"] = pd.NA if dtype != "object" else None
        with pytest.raises(bs.DataError, match=r"column 'D' has missing/NaN values at row\(s\) 3"):
            bs.validate(converted, INPUTS, TARGET, min_rows=chinchilla.min_rows)


def test_numpy_scalar_units_are_accepted():
    data = _good().assign(D=lambda d: d["D"] / 1e9)
    out = bs.validate(data, INPUTS, TARGET, units={"D": np.float32(1e9)})
    np.testing.assert_allclose(out["D"], _good()["D"], rtol=1e-7)


def test_bundled_dataset_validates_without_warnings(chinchilla_epoch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = bs.validate(chinchilla_epoch, INPUTS, TARGET, min_rows=chinchilla.min_rows)
    assert len(out) == len(chinchilla_epoch)


def test_error_names_row_labels_not_positions():
    data = _good().set_index(pd.Index([f"run{i}" for i in range(12)]))
    data.loc["run4", "loss"] = np.nan
    with pytest.raises(bs.DataError, match=r"'loss'.*'run4'"):
        bs.validate(data, INPUTS, TARGET)


def test_many_bad_rows_are_counted():
    data = _good()
    data.loc[1:10, "loss"] = np.nan
    with pytest.raises(bs.DataError, match=r"rows?\(s\) 1, 2, 3, 4, 5 \(and 5 more\)"):
        bs.validate(data, INPUTS, TARGET)


def test_requested_drops_are_reported():
    data = pd.concat([_good(), _good().iloc[[2]]], ignore_index=True)
    data.loc[5, "loss"] = np.nan
    with pytest.warns(bs.DataWarning) as record:
        out = bs.validate(data, INPUTS, TARGET, dropna=True, drop_duplicates=True)
    messages = " | ".join(str(w.message) for w in record)
    assert "dropped 1 row(s) with missing/non-finite values: [5]" in messages
    assert "dropped 1 duplicated row(s)" in messages and "[12]" in messages
    assert out.attrs["dropped"] == [5, 12]
    assert len(out) == len(data) - 2
    assert 5 not in out.index and 12 not in out.index


def test_declared_units_are_applied_and_silence_the_hint():
    good = _good()
    billions = good.assign(D=good["D"] / 1e9, loss=good["loss"] / math.log(2))
    billions.attrs["loss_unit"] = "bits"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = bs.validate(billions, INPUTS, TARGET, units={"D": 1e9, "loss": math.log(2)})
    np.testing.assert_allclose(out.to_numpy(), good.to_numpy(), rtol=1e-15)
    with pytest.raises(bs.DataError, match=r"units\['D'\] must be a positive finite number"):
        bs.validate(good, INPUTS, TARGET, units={"D": -1.0})


def test_huge_table_within_the_limit_works():
    rng = np.random.default_rng(1)
    n = 200_000
    data = pd.DataFrame(
        {
            "N": np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n)),
            "D": np.exp(rng.uniform(np.log(5e9), np.log(5e11), n)),
            "loss": rng.uniform(2.0, 4.0, n),
        }
    )
    out = bs.validate(data, INPUTS, TARGET)
    assert len(out) == n
    assert bs._data.MAX_ROWS == 1_000_000


def test_grouped_input_column_holds_codes():
    # The hierarchical fit converts labels to codes 1..G and passes them as an input.
    data = _good().assign(group=[1, 2] * 6)
    out = bs.validate(data, ["N", "D", "group"], TARGET)
    np.testing.assert_array_equal(out["group"], [1, 2] * 6)


def test_fit_rejects_bad_data_before_sampling():
    data = _good().astype({"N": object})
    data.loc[3, "N"] = "7B"
    with pytest.raises(bs.DataError, match=r"'N'.* 3"):
        bs.fit(chinchilla, data, num_warmup=10, num_samples=10, num_chains=1)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"num_chains": 0}, ValueError, "num_chains must be at least 1, got 0"),
        ({"num_warmup": -5}, ValueError, "num_warmup must be at least 0"),
        ({"num_samples": 0}, ValueError, "num_samples must be at least 1"),
        ({"num_samples": 10.5}, TypeError, "num_samples must be an integer, got 10.5"),
        (
            {"target_accept_prob": 90},
            ValueError,
            r"target_accept_prob is a probability in \(0, 1\)",
        ),
        ({"max_tree_depth": 0}, ValueError, "max_tree_depth must be at least 1"),
        ({"dense_mass": "yes"}, TypeError, "dense_mass must be True or False"),
        ({"method": "chees", "num_chains": 1}, ValueError, "cross-chain statistics"),
        ({"method": "svi", "svi_lr": -1.0}, ValueError, "'svi': svi_lr must be a positive"),
        ({"method": "hoffmann", "reduced_grid": 2.5}, TypeError, "reduced_grid must be an int"),
    ],
)
def test_bad_sampler_settings_are_rejected_before_anything_runs(options, error, match):
    options = {"method": "nuts", **options}
    for call in (
        lambda: bs.fit(chinchilla, _good(), **options),
        lambda: bs.fit_many(chinchilla, [_good()], **options),
    ):
        with pytest.raises(error, match=match):
            call()


@pytest.mark.slow  # three MAP compilations (~30 s on 2 cores)
def test_fit_and_fit_many_take_the_remedies_the_data_errors_name():
    """The errors say "declare units=...", "pass dropna=True", "drop_duplicates=True": fit and
    fit_many accept them, and the result is the fit of the corrected table."""
    good = _good(20)
    reference = bs.fit(chinchilla, good, method="map", seed=0)
    scaled = good.assign(N=good["N"] / 1e9)
    with pytest.raises(bs.DataError, match="units="):
        bs.fit(chinchilla, scaled, method="map")
    messy = pd.concat([scaled, scaled.iloc[[4]]], ignore_index=True)
    messy.loc[len(messy)] = [np.nan, 1e10, 3.0]
    kwargs = {"units": {"N": 1e9}, "dropna": True, "drop_duplicates": True, "method": "map"}
    with pytest.warns(bs.DataWarning, match="dropped"):
        one = bs.fit(chinchilla, messy, seed=0, **kwargs)
    with pytest.warns(bs.DataWarning, match="dropped"):
        (many,) = bs.fit_many(chinchilla, [messy], seed=0, **kwargs)
    assert len(one.data) == len(many.data) == 20
    np.testing.assert_allclose(one.data.to_numpy(), good.to_numpy(), rtol=1e-12)
    for post in (one, many):
        for name in ("E", "alpha", "beta"):
            np.testing.assert_allclose(post.samples[name], reference.samples[name], rtol=1e-6)
    # a named prior set works in fit_many as in fit: the same informed law
    from bayescale._priors import with_prior_set

    (many,) = bs.fit_many(chinchilla, [good], priors="epoch", method="map")
    assert many.law is with_prior_set(chinchilla, "epoch")


def test_priors_must_be_distributions_or_a_prior_set_name():
    with pytest.raises(TypeError, match="the prior of 'alpha' must be a numpyro distribution"):
        bs.fit(chinchilla, _good(), priors={"alpha": 0.3})
    with pytest.raises(TypeError, match="name of a prior set"):
        bs.fit_many(chinchilla, [_good()], priors=3)


# ------------------------------------------------------------------ read_table


def test_read_table_roundtrip_csv(tmp_path):
    path = tmp_path / "runs.csv"
    _good().assign(note="x").to_csv(path, index=False)
    out = bs.read_table(path, law=chinchilla)
    np.testing.assert_allclose(out.to_numpy(), _good().to_numpy(), rtol=1e-15)
    assert out.attrs["source"] == str(path)
    raw = bs.read_table(path)  # no law: read and checked non-empty only
    assert list(raw.columns) == ["N", "D", "loss", "note"]


def test_read_table_tsv(tmp_path):
    path = tmp_path / "runs.tsv"
    _good().to_csv(path, index=False, sep="\t")
    assert len(bs.read_table(path, INPUTS, TARGET)) == 12


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.csv", b"", r"empty\.csv: the file is empty"),
        ("header.csv", b"N,D,loss\n", r"header\.csv: the file has a header .* but no rows"),
        ("blank.csv", b"\n\n\n", r"blank\.csv: the file is empty"),
        ("binary.csv", bytes(range(256)) * 4, r"binary\.csv: unreadable as csv"),
        ("ragged.csv", b"N,D,loss\n1e9,2e10,2.5\n1e9,2e10,2.5,7,8\n", r"ragged\.csv: unread"),
        ("runs.xlsx", b"N,D,loss\n", r"unsupported file type '\.xlsx'"),
    ],
)
def test_read_table_bad_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(bs.DataError, match=match):
        bs.read_table(path, law=chinchilla)


def test_read_table_missing_file(tmp_path):
    with pytest.raises(bs.DataError, match=r"nope\.csv: no such file"):
        bs.read_table(tmp_path / "nope.csv")


def test_read_table_names_the_file_line(tmp_path):
    path = tmp_path / "runs.csv"
    data = _good()
    data.loc[4, "loss"] = -1.0
    data.to_csv(path, index=False)
    with pytest.raises(
        bs.DataError, match=r"runs\.csv: column 'loss' must be positive; row\(s\) 4 .*line r \+ 2"
    ):
        bs.read_table(path, law=chinchilla)


def test_read_table_parquet(tmp_path):
    path = tmp_path / "runs.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path.write_bytes(b"PAR1 not really")
        with pytest.raises(bs.DataError, match=r"runs\.parquet: reading Parquet needs pyarrow"):
            bs.read_table(path, law=chinchilla)
        return
    _good().to_parquet(path)
    assert len(bs.read_table(path, law=chinchilla)) == 12


# ------------------------------------------------------------------ sampler faults

# Each setting provokes one diagnostic failure on the bundled Chinchilla data; all share the
# data shape, so each costs one compilation of its settings.
FAULTS = [
    ("divergences", dict(target_accept_prob=0.05, dense_mass=False), r"divergent transitions"),
    ("r_hat", dict(num_warmup=10, num_samples=100), r"R-hat above 1.01"),
    ("ess", dict(num_warmup=10, num_samples=100), r"effective sample size below 200"),
    ("tree depth", dict(max_tree_depth=2), r"hit the maximum tree depth 2"),
]


@pytest.fixture(scope="module")
def faulty_fits(chinchilla_epoch):
    fits = {}
    for kwargs in {str(k): k for _, k, _ in FAULTS}.values():
        settings = {**dict(num_chains=2, num_warmup=300, num_samples=300), **kwargs}
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            post = bs.fit(chinchilla, chinchilla_epoch, seed=1, **settings)
        fits[str(kwargs)] = (post, [w for w in record if w.category is ConvergenceWarning])
    return fits


@pytest.mark.slow  # three compilations of the sampler (~40-80 s on 2 cores)
@pytest.mark.parametrize("kwargs, match", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_sampler_fault_is_flagged_with_remedy(faulty_fits, kwargs, match):
    post, warned = faulty_fits[str(kwargs)]
    assert not post.ok
    problem = next((p for p in post.problems if __import__("re").search(match, p)), None)
    assert problem is not None, post.problems
    assert "Remedy:" in problem
    assert warned and "do not trust it" in str(warned[0].message)
    assert "FAILED DIAGNOSTICS" in repr(post)
    assert "FAILED DIAGNOSTICS" in post._repr_html_()


def test_low_bfmi_is_flagged():
    # A random-walk energy trace (strongly autocorrelated) has BFMI ~ 1/n; white noise ~ 2.
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.standard_normal((2, 500)), axis=1)
    white = rng.standard_normal((2, 500))
    draws = {"a": rng.standard_normal((2, 500))}
    table = convergence_table(draws)
    stats = {"diverging": np.zeros((2, 500), bool), "n_steps": np.full((2, 500), 7)}
    bad = check_convergence(table, {**stats, "energy": walk}, max_tree_depth=10, warn=False)
    good = check_convergence(table, {**stats, "energy": white}, max_tree_depth=10, warn=False)
    assert any(f"below {BFMI_MIN}" in p and "Remedy:" in p for p in bad)
    assert good == []


def test_priors_that_exclude_the_data_are_flagged(chinchilla_post):
    # A tight prior far from the data: E ~ 150 nats. The posterior must then put some
    # parameter far in its prior's tail (here log_E is held, sigma absorbs the misfit).
    import numpyro.distributions as dist

    law = chinchilla.with_priors(log_E=dist.Normal(5.0, 0.01))
    draws = dict(chinchilla_post.draws)
    draws["log_E"] = np.full_like(draws["log_E"], 5.0)
    draws["sigma"] = np.full_like(draws["sigma"], 1.2)
    with pytest.warns(PriorWarning, match=r"priors exclude the data.*sigma.*Remedy"):
        problems = check_draws(law, "normal", draws)
    assert len(problems) == 1
    # The default fit on real data is not flagged.
    assert check_draws(chinchilla, "normal", dict(chinchilla_post.draws), warn=False) == []
    assert chinchilla_post.ok, chinchilla_post.problems


def test_non_finite_draws_are_flagged():
    draws = {"a": np.array([[np.nan, 1.0], [2.0, 3.0]])}
    with pytest.warns(ConvergenceWarning, match=r"non-finite draws of \['a'\].*Remedy"):
        problems = check_draws(chinchilla, "normal", draws)
    assert len(problems) == 1


@pytest.mark.filterwarnings("ignore:.*encountered in scalar divide:RuntimeWarning")
def test_non_finite_log_density_at_init_is_flagged():
    # log(c - log N) with c ~ Normal(0, 1) and log N ~ 20: the law is NaN wherever the priors
    # reach, so NUTS cannot start; the fit must say so, not return a quiet constant chain.
    import jax.numpy as jnp
    import numpyro.distributions as dist

    law = bs.Law(
        name="undefined_here",
        inputs=("N",),
        params=(bs.Parameter("c", dist.Normal(0.0, 1.0)),),
        mean_fn=lambda t, x: jnp.log(t["c"] - jnp.log(x["N"])),
    )
    with pytest.warns(ConvergenceWarning):
        post = bs.fit(law, _good(), num_chains=2, num_warmup=20, num_samples=50)
    assert not post.ok
    assert any("non-finite log density at initialisation" in p for p in post.problems)
    assert "FAILED DIAGNOSTICS" in repr(post)


# ------------------------------------------------------------------ saved posteriors


def test_saved_fit_roundtrip_keeps_ok_flag(chinchilla_post, tmp_path):
    path = tmp_path / "fit.nc"
    chinchilla_post.save(path)
    back = bs.load(path)
    assert back.ok == chinchilla_post.ok
    np.testing.assert_array_equal(back.draws["alpha"], chinchilla_post.draws["alpha"])


def _rewrite(src, dst, edit):
    import xarray as xr

    with xr.open_datatree(src, engine="h5netcdf") as tree:
        tree = tree.load()
    edit(tree)
    tree.to_netcdf(dst, engine="h5netcdf")


def test_load_rejects_foreign_corrupted_and_future_files(chinchilla_post, tmp_path):
    import xarray as xr

    good = tmp_path / "fit.nc"
    chinchilla_post.save(good)

    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(ValueError, match=r"not a bayescale fit"):
        bs.load(foreign)

    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[: os.path.getsize(good) // 2])
    with pytest.raises(ValueError, match=r"truncated\.nc: not a readable netCDF file"):
        bs.load(truncated)

    text = tmp_path / "text.nc"
    text.write_text("N,D,loss\n1,2,3\n")
    with pytest.raises(ValueError, match=r"not a readable netCDF file"):
        bs.load(text)

    future = tmp_path / "future.nc"
    _rewrite(good, future, lambda t: t.attrs.update(bayescale_format=99))
    with pytest.raises(ValueError, match=r"format version 99 is newer .* upgrade bayescale"):
        bs.load(future)

    garbage = tmp_path / "garbage.nc"
    _rewrite(good, garbage, lambda t: t.attrs.update(bayescale_format="v-one"))
    with pytest.raises(ValueError, match=r"unreadable bayescale format version 'v-one'"):
        bs.load(garbage)

    no_posterior = tmp_path / "no_posterior.nc"

    def drop_posterior(tree):
        del tree["posterior"]

    _rewrite(good, no_posterior, drop_posterior)
    with pytest.raises(ValueError, match=r"corrupted or incomplete bayescale file"):
        bs.load(no_posterior)

    bad_labels = tmp_path / "bad_labels.nc"
    _rewrite(good, bad_labels, lambda t: t.attrs.update(row_labels="[1, 2"))
    with pytest.raises(ValueError, match=r"corrupted or incomplete bayescale file"):
        bs.load(bad_labels)


class _Payload:
    def __reduce__(self):
        return (open, (os.environ["BAYESCALE_PWNED"], "w"))


def test_load_never_unpickles(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("BAYESCALE_PWNED", str(marker))
    path = tmp_path / "fit.nc"
    path.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ValueError, match=r"not a readable netCDF file"):
        bs.load(path)
    assert not marker.exists()


# ------------------------------------------------------------------ bounds, tables, text files


def test_plausible_bounds_can_be_raised_and_follow_the_table():
    """A bound is raised per column (math.inf removes it); the validated table keeps the
    raised bounds in attrs, so validating it again (as fit does) passes too."""
    big = _good().assign(N=lambda d: d["N"] * 1e6)  # up to 1.6e16 parameters
    with pytest.raises(bs.DataError, match="above 1e\\+15 parameters"):
        bs.validate(big, INPUTS, TARGET)
    out = bs.validate(big, INPUTS, TARGET, max_values={"N": 1e17})
    assert out.attrs["max_values"] == {"N": 1e17}
    assert len(bs.validate(out, INPUTS, TARGET)) == len(big)  # attrs carry the bound
    tagged = big.copy()
    tagged.attrs["max_values"] = {"N": math.inf}
    assert len(bs.validate(tagged, INPUTS, TARGET)) == len(big)
    assert "max_values" not in bs.validate(_good(), INPUTS, TARGET).attrs
    with pytest.raises(bs.DataError, match=r"above 1e\+09 parameters"):
        bs.validate(_good(), INPUTS, TARGET, max_values={"N": 1e9})  # lowered, too


def test_the_documented_bounds_are_the_applied_ones():
    import bayescale._data as module

    rows = [line for line in module.__doc__.splitlines() if line.startswith("``")]
    for name, bound in module.PLAUSIBLE_MAX.items():
        documented = [r for r in rows if f"``{name}``" in r]
        assert documented, name
        assert f"{bound:.0e}".replace("+", "") in documented[0] or name == "C_test", name


def test_other_dataframe_libraries_are_converted_or_named():
    """Any table with to_pandas(), the Arrow C stream or the DataFrame interchange protocol
    (polars, pyarrow) is converted; anything else gets a message saying what to pass."""
    pa = pytest.importorskip("pyarrow")
    good = _good()
    table = pa.Table.from_pandas(good)

    class InterchangeOnly:  # a table known only by the DataFrame interchange protocol
        def __dataframe__(self, *args, **kwargs):
            return table.__dataframe__(*args, **kwargs)

    class ArrowStreamOnly:  # ... or only by the Arrow C stream (polars, DuckDB, ...)
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    for data in (table, InterchangeOnly(), ArrowStreamOnly()):
        out = bs.validate(data, INPUTS, TARGET)
        np.testing.assert_array_equal(out["N"], good["N"])
    for data, hint in (
        ({"N": [1.0]}, "pass pd.DataFrame(data)"),
        ("runs.csv", "bayescale.read_table(path)"),
        (np.zeros((3, 3)), "pass a pandas DataFrame"),
    ):
        head = "expected a table (a pandas DataFrame, or a polars/pyarrow table)"
        with pytest.raises(bs.DataError, match=f"{re.escape(head)}.*{re.escape(hint)}"):
            bs.validate(data, INPUTS, TARGET)


@pytest.mark.parametrize(
    "name, write, match",
    [
        ("semi.csv", lambda d: d.to_csv(sep=";", index=False), r"looks ';'-separated.*sep=';'\)"),
        (
            "euro.csv",
            lambda d: d.to_csv(sep=";", decimal=",", index=False),
            r"looks ';'-separated.*sep=';', decimal=','\)",
        ),
        (
            "comment.csv",
            lambda d: "# runs of 2026-11, loss in nats\n# N: parameters\n" + d.to_csv(index=False),
            r"lines starting with '#' look like comments.*comment='#'",
        ),
        ("comma.tsv", lambda d: d.to_csv(index=False), r"looks ','-separated, not tab-separated"),
    ],
)
def test_read_table_hints_at_separators_and_comments(tmp_path, name, write, match):
    path = tmp_path / name
    path.write_text(write(_good()))
    with pytest.raises(bs.DataError, match=match):
        bs.read_table(path, law=chinchilla)


def test_summary_level_and_complex_inputs_are_checked(chinchilla_post):
    with pytest.raises(ValueError, match=r"level must be a probability in \(0, 1\).*got '0.9'"):
        chinchilla_post.summary(level="0.9")
    with pytest.raises(ValueError, match=r"level must be a probability"):
        chinchilla_post.summary(level=95)
    with pytest.raises(ValueError, match=r"input 'N' holds complex numbers \(\[7e\+10\+1j\]\)"):
        chinchilla_post.forecast(N=7e10 + 1j, D=1.4e12)
    with pytest.raises(ValueError, match=r"C holds complex numbers"):
        chinchilla_post.allocate(np.array([5.76e23 + 0j]))
    with pytest.warns(bs.DataWarning, match=r"'N' = 1e\+300 is above 1e\+15") as caught:
        chinchilla_post.forecast(N=1e300, D=1.4e12)
    assert caught[0].filename == __file__


def test_group_labels_that_print_the_same_are_refused():
    from bayescale._data import check_distinct_labels

    with pytest.raises(bs.DataError, match=r"labels 1 \(int\) and '1' \(str\).*astype\(str\)"):
        check_distinct_labels([1, "1", 2], "g")
    with pytest.raises(bs.DataError, match=r"labels 1.0 \(float\) and '1.0' \(str\)"):
        check_distinct_labels([np.float64(1.0), "1.0"], "g")
    check_distinct_labels([1, 2, "a", np.int64(3), True], "g")  # distinct when printed


def test_a_grouped_fit_refuses_labels_that_print_the_same():
    from bayescale.models import hestness_N

    from bayescale._hierarchical import grouped_fit_inputs

    data = pd.DataFrame(
        {"g": [1, "1", 1, "1", 2, 2], "N": [1e7, 1e8, 1e9] * 2, "loss": [3.0, 2.5, 2.0] * 2}
    )
    with pytest.raises(bs.DataError, match=r"labels 1 \(int\) and '1' \(str\)"):
        grouped_fit_inputs(hestness_N, data, "g")


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (
            2**70,
            ValueError,
            r"seed must be an integer in \[0, 2\*\*63\), got 1180591620717411303424",
        ),
        (-1, ValueError, r"got -1"),
        (1.5, TypeError, r"got 1.5 \(float\)"),
        ("abc", TypeError, r"got 'abc' \(str\)"),
    ],
)
def test_fit_and_fit_many_check_the_seed_before_anything_runs(seed, error, match):
    with pytest.raises(error, match=match):
        bs.fit(chinchilla, _good(), seed=seed)
    with pytest.raises(error, match=match):
        bs.fit(chinchilla, _good(), seed=seed, method="map")
    with pytest.raises(error, match=match):
        bs.fit_many(chinchilla, [_good()], seed=seed, method="map")
