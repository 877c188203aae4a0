"""Posterior I/O and the values it hands out: every method's fit saves and loads back the same
(grouped fits too, in a new process), a loaded file is closed, a wrong ``law=`` is named, inputs
of forecast/allocate/compute_for are checked, and a Posterior cannot be changed in place."""

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla, hestness_N
from synthetic import synthetic_posterior

import bayescale as bs
from bayescale._data import DataWarning
from bayescale._hierarchical import group_spec

SMALL_NUTS = dict(num_warmup=200, num_samples=200, num_chains=2)


@pytest.fixture(scope="module")
def epoch():
    return bs.datasets.load("chinchilla", variant="epoch")[["N", "D", "loss"]]


@pytest.fixture(scope="module")
def prior_post(epoch):
    """A Posterior of prior draws (no fit) whose diagnostics pass: for checks of inputs,
    immutability and files (see tests/synthetic.py)."""
    return synthetic_posterior(epoch)


def _rewrite(src, dst, edit):
    import xarray as xr

    with xr.open_datatree(src, engine="h5netcdf") as tree:
        tree = tree.load()
    edit(tree)
    tree.to_netcdf(dst, engine="h5netcdf")


def _assert_same(back, post, *, same_law=True):
    assert back.law is post.law or not same_law
    assert back.law.name == post.law.name and back.noise == post.noise
    assert back.method == post.method and back.seed == post.seed
    assert back.approximate == post.approximate
    assert back.problems == post.problems and back.ok == post.ok
    assert dict(back.settings) == dict(post.settings)
    assert back.draws.keys() == post.draws.keys() and back.stats.keys() == post.stats.keys()
    for mine, theirs in ((back.draws, post.draws), (back.stats, post.stats)):
        for k, v in theirs.items():
            assert mine[k].dtype == v.dtype and mine[k].shape == v.shape, k
            np.testing.assert_array_equal(mine[k], v)
    assert back.data.equals(post.data)


def _round_trip(post, path):
    """Save and load, then load again from a file without the recorded problems (as written
    before they were recorded): both must give the same Posterior."""
    post.save(path)
    _assert_same(bs.load(path), post)
    legacy = path.with_name("legacy_" + path.name)
    _rewrite(path, legacy, lambda t: t.attrs.pop("problems"))
    _assert_same(bs.load(legacy), post)


# ------------------------------------------------------------------ 1. every method round-trips


@pytest.mark.parametrize(
    "method, options",
    [
        # two methods in the inner loop (laplace: per-fit statistics beside (chain, draw)
        # draws); the others compile 10-17 s each on 2 cores
        ("laplace", dict(num_chains=2, num_samples=100)),
        ("map", {}),
        pytest.param(
            "svi", dict(num_chains=2, num_samples=100, svi_steps=200), marks=pytest.mark.slow
        ),
        pytest.param("hoffmann", dict(reduced_grid=50), marks=pytest.mark.slow),
    ],
)
def test_every_method_saves_and_loads_back(epoch, tmp_path, method, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        post = bs.fit(chinchilla, epoch, method=method, seed=1, **options)
    _round_trip(post, tmp_path / f"{method}.nc")


@pytest.mark.slow  # a fit_many compilation (~15 s)
def test_fit_many_fits_save_and_load_back(epoch, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        posts = bs.fit_many(chinchilla, [epoch.iloc[::2], epoch.iloc[1::2]], method="map")
    for i, post in enumerate(posts):
        assert post.settings["fit_many_index"] == i
        _round_trip(post, tmp_path / f"many{i}.nc")


# ------------------------------------------------------------------ 2. load closes the file


def test_a_loaded_file_can_be_overwritten(prior_post, tmp_path):
    path = tmp_path / "fit.nc"
    prior_post.save(path)
    back = bs.load(path)
    back.save(path)  # OSError while load held the file open
    _assert_same(bs.load(path), prior_post)


# ------------------------------------------------------------------ 3. grouped fits, wrong law=


@pytest.fixture(scope="module")
def grouped():
    rng = np.random.default_rng(1)
    rows = []
    for lang, E, A in [("en", 1.8, 50.0), ("sw", 2.3, 80.0), ("de", 2.0, 60.0)]:
        for N in np.geomspace(1e7, 1e10, 8):
            rows.append(dict(lang=lang, N=N, loss=(E + A / N**0.3) * np.exp(rng.normal(0, 0.01))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.fit(
            hestness_N,
            pd.DataFrame(rows),
            groups="lang",
            pooled=["alpha"],
            separate=["E", "A"],
            centred=True,
            **SMALL_NUTS,
        )


def test_grouped_fit_loads_without_the_law(grouped, tmp_path):
    path = tmp_path / "grouped.nc"
    _round_trip(grouped, path)  # the same law object: rebuilt by bs.hierarchical, memoised
    spec = group_spec(bs.load(path).law)
    assert spec.labels == ("de", "en", "sw") and spec.base is hestness_N
    assert spec.centred_names == ("alpha",) and spec.separate == ("log_E", "log_A0")


@pytest.mark.slow  # a new Python process (~11 s)
def test_grouped_fit_loads_in_a_new_process(grouped, tmp_path):
    path = tmp_path / "grouped.nc"
    grouped.save(path)
    script = (
        "import json, sys, bayescale as bs\n"
        "p = bs.load(sys.argv[1])\n"
        "f = p.forecast(N=1e11, group='sw')\n"
        "print(json.dumps([p.law.name, p.ok, float(f['median'].iloc[0])]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BAYESCALE_CPU_DEVICES": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    name, ok, median = json.loads(out.stdout.strip().splitlines()[-1])
    assert name == grouped.law.name and ok == grouped.ok
    assert median == float(grouped.forecast(N=1e11, group="sw")["median"].iloc[0])


def test_a_grouping_named_in_another_order_is_the_same_law():
    # load rebuilds a grouped law from its GroupSpec (parameters in the law's order): the same
    # object as the one fitted, whatever order the fit named them in.
    a = bs.hierarchical(chinchilla, 3, pooled=["beta", "alpha"], shared="rest")
    assert a is bs.hierarchical(chinchilla, 3, pooled=["alpha", "beta"], shared="rest")


def test_a_wrong_law_is_named(grouped, prior_post, tmp_path):
    path = tmp_path / "grouped.nc"
    grouped.save(path)
    with pytest.raises(ValueError, match=r"law 'hestness_N' .*does not match.*hestness_N_by_lang"):
        bs.load(path, law=hestness_N)
    plain = tmp_path / "plain.nc"
    prior_post.save(plain)
    with pytest.raises(ValueError, match=r"law 'hestness_N' .*does not match.*'chinchilla'"):
        bs.load(plain, law=hestness_N)
    assert bs.load(plain, law=chinchilla).law is chinchilla


# ------------------------------------------------------------------ 4. compute_for, allocate


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: p.compute_for(np.nan), r"loss must be finite and positive.*nan"),
        (lambda p: p.compute_for(-1.0), r"loss must be finite and positive.*-1"),
        (lambda p: p.compute_for(0.0), r"loss must be finite and positive.*0"),
        (lambda p: p.compute_for([]), r"loss is empty"),
        (lambda p: p.compute_for(2.0, flops_per_param_token=-6), r"flops_per_param_token.*-6"),
        (lambda p: p.compute_for(2.0, level=90), r"level must be .*\(0, 1\).*90"),
        (lambda p: p.allocate(1e24, flops_per_param_token=0), r"flops_per_param_token.*got 0"),
        (lambda p: p.allocate(1e24, flops_per_param_token=np.inf), r"flops_per_param_token"),
        (lambda p: p.allocate(0.0), r"C must be finite and positive.*\[0\]"),
        (lambda p: p.allocate(-1e24), r"C must be finite and positive.*-1e\+24"),
        (lambda p: p.allocate([1e24, np.nan]), r"C must be finite and positive.*nan"),
        (lambda p: p.allocate("a lot"), r"C must be .*got 'a lot'"),
        (lambda p: p.allocate(1e24, level=0), r"level must be"),
    ],
)
def test_compute_for_and_allocate_reject_nonsense(prior_post, call, match):
    with pytest.raises(ValueError, match=match):
        call(prior_post)


def test_compute_for_and_allocate_document_their_arguments():
    for method, names in (
        (bs.Posterior.compute_for, ("loss", "level", "flops_per_param_token")),
        (bs.Posterior.allocate, ("C", "level", "flops_per_param_token", "group", "seed")),
    ):
        args = method.__doc__.split("Args:")[1].split("Returns:")[0]
        for name in names:
            assert f"\n            {name}: " in args, (method.__name__, name)


# ------------------------------------------------------------------ 5. forecast inputs


@pytest.mark.parametrize(
    "inputs, match",
    [
        (dict(N=[], D=1e12), r"input 'N' is empty"),
        (dict(N=[1e9, 2e9], D=[1e11, 2e11, 3e11]), r"do not broadcast: N \(2,\), D \(3,\)"),
        (dict(N=1e9), r"missing input\(s\) \['D'\]"),
        (dict(N=1e9, D=1e11, U=1e11), r"unexpected input\(s\) \['U'\]"),
        (dict(N=[[1e9, 2e9], [3e9]], D=1e11), r"input 'N' must be a number"),
        (dict(N=-1e9, D=1e11), r"input 'N' must be finite and positive, got \[-1e\+09\]"),
    ],
)
def test_forecast_input_errors_are_clear(prior_post, inputs, match):
    with pytest.raises(ValueError, match=match):
        prior_post.forecast(**inputs)


def test_scaled_inputs_warn(prior_post):
    with pytest.warns(DataWarning, match=r"'N' looks scaled \(largest value 70") as caught:
        prior_post.forecast(N=70, D=1.4e12)
    assert caught[0].filename == __file__  # points at the caller's line
    with pytest.warns(DataWarning, match=r"'D' looks scaled"):
        prior_post.forecast(N=7e10, D=[1.4, 2.0])
    with pytest.warns(DataWarning, match=r"'C' looks scaled \(largest value 5.76") as caught:
        prior_post.allocate(5.76)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        prior_post.forecast(N=[1e6, 7e10], D=1.4e12)  # raw counts: no warning
        prior_post.allocate(5.76e23)


# ------------------------------------------------------------------ 6. immutability


def test_draws_stats_and_settings_are_read_only(prior_post):
    with pytest.raises(TypeError):
        prior_post.draws["x"] = 1
    with pytest.raises(TypeError):
        prior_post.settings["a"] = 2  # a read-only mapping
    with pytest.raises(TypeError):
        prior_post.stats["diverging"] = np.zeros(3)
    with pytest.raises(ValueError, match="read-only"):
        prior_post.draws["alpha"][0, 0] = 99.0
    assert "a" not in prior_post.settings and "x" not in prior_post.draws


def test_the_data_table_cannot_change_the_fit(prior_post):
    expected = prior_post.data.copy()
    before = prior_post.forecast(N=1e9, D=2e10)
    table = prior_post.data
    table.loc[table.index[0], ["N", "loss"]] = [1e15, 100.0]
    table["extra"] = 1.0
    assert prior_post.data.equals(expected)
    assert prior_post.forecast(N=1e9, D=2e10).equals(before)  # extrapolation reads data.N
    # nor can the caller's own table, changed after the Posterior was made
    mine = expected.copy()
    post = bs.Posterior(law=chinchilla, noise="normal", data=mine, draws=prior_post.draws, stats={})
    mine.loc[mine.index[0], "loss"] = 100.0
    assert post.data.equals(expected)


def test_a_read_only_posterior_still_pickles_and_saves(prior_post, tmp_path):
    back = pickle.loads(pickle.dumps(prior_post))
    _assert_same(back, prior_post, same_law=False)  # a Law pickles by value
    assert isinstance(back.draws["alpha"], np.ndarray) and not back.draws["alpha"].flags.writeable
    prior_post.save(tmp_path / "fit.nc")
    assert bs.load(tmp_path / "fit.nc").settings == prior_post.settings


# ------------------------------------------------------------------ 7. one-draw repr, docstrings


def test_single_draw_repr_is_quiet(prior_post):
    one = bs.Posterior(
        law=chinchilla,
        noise="normal",
        data=prior_post.data,
        draws={k: v[:1, :1] for k, v in prior_post.draws.items()},
        stats={},
        method="map",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = repr(one)
        table = one.summary()
    assert "approximate (map)" in text
    assert table["sd"].isna().all()
    assert bs.Posterior.num_chains.__doc__


def test_a_fit_with_replaced_priors_loads_with_those_priors(prior_post, tmp_path):
    """The priors matter after loading (evidence, prior-posterior plots): a named prior set is
    restored; hand-replaced priors, which a file cannot hold, need law= instead of silently
    becoming the catalog defaults."""
    import dataclasses

    import numpyro.distributions as dist

    from bayescale._priors import with_prior_set

    informed = dataclasses.replace(prior_post, law=with_prior_set(chinchilla, "epoch"))
    informed.save(tmp_path / "set.nc")
    assert bs.load(tmp_path / "set.nc").law is informed.law
    custom_law = chinchilla.with_priors(alpha=dist.Normal(0.3, 0.05))
    custom = dataclasses.replace(prior_post, law=custom_law)
    custom.save(tmp_path / "custom.nc")
    with pytest.raises(ValueError, match=r"used replaced priors.*pass law="):
        bs.load(tmp_path / "custom.nc")
    assert bs.load(tmp_path / "custom.nc", law=custom_law).law is custom_law
    prior_post.save(tmp_path / "default.nc")
    assert bs.load(tmp_path / "default.nc").law is chinchilla


# ------------------------------------------------------------------ 8. the verdict follows the fit


def _nan(a):
    return a * np.nan


def _edit_group(tree, group, **changes):
    import xarray as xr

    ds = tree[group].to_dataset()
    tree[group] = xr.DataTree(ds.assign(**{k: f(ds[k]) for k, f in changes.items()}))


def test_load_recomputes_the_verdict_from_the_draws(epoch, tmp_path):
    """A file cannot vouch for itself: a fit whose chains disagree loads as failed even when
    its file (or the object saved) says it passed; NaN draws and missing sampler statistics
    fail it too. Problems a file records beyond the recomputed ones are kept."""
    bad = synthetic_posterior(epoch, chain_shift=1.0)  # claims ok; its chains disagree
    assert bad.ok
    bad.save(tmp_path / "bad.nc")
    back = bs.load(tmp_path / "bad.nc")
    assert not back.ok and any("R-hat above 1.01 for ['alpha']" in p for p in back.problems)
    honest = dataclasses.replace(bad, problems=back.problems)
    honest.save(tmp_path / "honest.nc")
    edited = tmp_path / "edited.nc"
    _rewrite(tmp_path / "honest.nc", edited, lambda t: t.attrs.update(problems="[]"))
    assert bs.load(edited).problems == back.problems

    good = synthetic_posterior(epoch)
    good.save(tmp_path / "good.nc")
    assert bs.load(tmp_path / "good.nc").ok
    nan = tmp_path / "nan.nc"
    _rewrite(tmp_path / "good.nc", nan, lambda t: _edit_group(t, "posterior", alpha=_nan))
    problems = bs.load(nan).problems
    assert len(problems) == 1 and problems[0].startswith("non-finite draws of ['alpha']")
    no_stats = tmp_path / "no_stats.nc"
    _rewrite(tmp_path / "good.nc", no_stats, lambda t: t.__delitem__("sample_stats"))
    (problem,) = bs.load(no_stats).problems
    assert "holds no sampler statistics ['diverging', 'n_steps', 'energy']" in problem
    extra = dataclasses.replace(good, problems=("a check of the fit that needs more than draws",))
    extra.save(tmp_path / "extra.nc")
    assert bs.load(tmp_path / "extra.nc").problems == extra.problems


def test_a_verdict_is_remembered_by_the_machine_that_computed_it(epoch, tmp_path, monkeypatch):
    """Loading a file this machine saved re-diagnoses nothing (no ArviZ, no prior moments): the
    verdict is kept under a digest of the file's values and bayescale's code, not in the file.
    A file changed in one value is diagnosed again (then remembered); with the cache off every
    load diagnoses."""
    from bayescale import _stored, _verdicts

    good = synthetic_posterior(epoch)
    good.save(tmp_path / "good.nc")
    calls = []
    real = _stored._diagnose
    monkeypatch.setattr(_stored, "_diagnose", lambda *a: calls.append(1) or real(*a))
    assert bs.load(tmp_path / "good.nc").ok and calls == []
    nudged = tmp_path / "nudged.nc"  # one value changed in its last bits (unique to this test)
    nudge = {"alpha": lambda a: a * (1 + 2.0**-40)}
    _rewrite(tmp_path / "good.nc", nudged, lambda t: _edit_group(t, "posterior", **nudge))
    assert bs.load(nudged).ok and calls == [1]
    assert bs.load(nudged).ok and calls == [1]
    monkeypatch.setattr(_verdicts, "cache_folder", lambda name: None)
    assert bs.load(tmp_path / "good.nc").ok and calls == [1, 1]


def test_a_remembered_verdict_is_no_file_of_the_users(epoch, tmp_path, monkeypatch):
    """The verdict cache is bayescale's: the command line does not report it as written, and a
    cache folder that cannot be written leaves save and load working (diagnosing each time)."""
    from bayescale import _files, _verdicts

    post = synthetic_posterior(epoch)
    _files.WRITTEN.clear()
    post.save(tmp_path / "fit.nc")
    assert _files.WRITTEN == [str(tmp_path / "fit.nc")]
    locked = tmp_path / "locked"  # read-only, as os.access reports it (root may write anyway)
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, m, **k: str(p).startswith(str(locked)) is False and real_access(p, m),
    )
    monkeypatch.setattr(_verdicts, "cache_folder", lambda name: str(locked))
    with pytest.raises(ValueError, match="cannot write in the folder"):
        _files.check_target(locked / "verdict.json")
    post.save(tmp_path / "again.nc")
    assert bs.load(tmp_path / "again.nc").ok and not list(locked.iterdir())


@pytest.mark.parametrize(
    "group, var, change, match",
    [
        ("constant_data", "N", lambda a: a * -1.0, r"observed column 'N' holds values no fit"),
        ("constant_data", "D", lambda a: a.where(a.row != 3), r"'D' .* row\(s\) \[3\]: \[nan\]"),
        ("observed_data", "obs", lambda a: a * np.inf, r"observed column 'loss' holds values"),
        ("posterior", "beta", lambda a: a.astype(complex), r"draws of 'beta' holds complex128"),
        ("sample_stats", "energy", lambda a: a.astype(str), r"statistic 'energy' holds <U"),
    ],
)
def test_load_rejects_data_and_draws_no_fit_has(prior_post, tmp_path, group, var, change, match):
    prior_post.save(tmp_path / "good.nc")
    edited = tmp_path / "edited.nc"
    _rewrite(tmp_path / "good.nc", edited, lambda t: _edit_group(t, group, **{var: change}))
    with pytest.raises(ValueError, match="corrupted or incomplete bayescale file") as caught:
        bs.load(edited)
    assert caught.match(match)


def test_results_of_a_failed_fit_warn_at_the_callers_line(prior_post):
    failed = dataclasses.replace(
        prior_post, problems=("R-hat above 1.01 for ['alpha']. Remedy: increase num_warmup.",)
    )
    calls = [
        lambda p: p.forecast(N=7e10, D=1.4e12),
        lambda p: p.allocate(5.76e23),
        lambda p: p.compute_for(2.0),
    ]
    for call in calls:
        with pytest.warns(bs.ConvergenceWarning, match="FAILED its diagnostics") as caught:
            call(failed)
        (warning,) = [w for w in caught if issubclass(w.category, bs.ConvergenceWarning)]
        assert warning.filename == __file__
        assert "R-hat above 1.01 for ['alpha']" in str(warning.message)
        assert "Remedy: increase num_warmup" in str(warning.message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ConvergenceWarning)
        for call in calls:
            call(prior_post)


@pytest.mark.parametrize("seed", [-1, 2**63, 2**70, 1.5, "abc", True, None])
def test_seeds_are_checked(prior_post, seed):
    expected = ValueError if isinstance(seed, int) and not isinstance(seed, bool) else TypeError
    with pytest.raises(expected, match=r"seed must be an integer in \[0, 2\*\*63\)"):
        prior_post.forecast(N=7e10, D=1.4e12, seed=seed)


def test_save_leaves_out_the_pointwise_log_likelihood(prior_post, tmp_path):
    """Chains x draws x rows numbers: recomputed on demand, stored only when asked for."""
    import xarray as xr

    prior_post.save(tmp_path / "small.nc")
    prior_post.save(tmp_path / "full.nc", log_likelihood=True)
    with xr.open_datatree(tmp_path / "small.nc", engine="h5netcdf") as tree:
        assert "log_likelihood" not in tree.children
    with xr.open_datatree(tmp_path / "full.nc", engine="h5netcdf") as tree:
        ll = tree["log_likelihood"]["obs"].to_numpy()
    np.testing.assert_array_equal(ll, prior_post.log_likelihood)
    np.testing.assert_array_equal(bs.load(tmp_path / "small.nc").log_likelihood, ll)
    small, full = (os.path.getsize(tmp_path / f) for f in ("small.nc", "full.nc"))
    assert small < full / 4
