"""The NUTS runner: re-whitened metric adaptation and chains in parallel over CPU devices."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._inference import _whitening_steps

_PARALLEL = textwrap.dedent(
    r"""
    import json
    import jax, numpy as np
    import bayescale as bs
    from bayescale.models import chinchilla
    df = bs.datasets.load("chinchilla", variant="epoch")
    auto = bs.fit(chinchilla, df, seed=0, num_warmup=500, num_samples=500)
    seq = bs.fit(chinchilla, df, seed=0, num_warmup=500, num_samples=500,
                 chain_method="sequential")
    again = bs.fit(chinchilla, df, seed=0, num_warmup=500, num_samples=500)
    split = bs.fit(chinchilla, df, seed=0, num_warmup=500, num_samples=500,
                   chain_method="split_rows")
    from bayescale._fit import _resolve_chain_method, SEQUENTIAL_FROM
    out = {"devices": len(jax.local_devices()), "chain_method": auto.settings["chain_method"],
           "big": _resolve_chain_method("auto", 4, SEQUENTIAL_FROM),
           "below": _resolve_chain_method("auto", 4, SEQUENTIAL_FROM - 1),
           "ok": [auto.ok, seq.ok, split.ok], "shape": list(auto.draws["alpha"].shape),
           "same_seed_same_draws": bool(np.array_equal(auto.draws["alpha"], again.draws["alpha"]))}
    import contextlib, io, re
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        bs.fit(chinchilla, df, seed=0, num_warmup=100, num_samples=100, progress=True)
    out["progress"] = [[int(a), int(b)] for a, b in re.findall(r"(\d+)/(\d+)", err.getvalue())]
    for name, post in (("auto", auto), ("seq", seq), ("split", split)):
        t = post.summary()
        out[name] = {k: [float(t.loc[k, "mean"]), float(t.loc[k, "sd"]),
                         float(t.loc[k, "ess_bulk"])] for k in ("E", "alpha", "beta")}
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_default_fit_runs_chains_in_parallel_over_cpu_devices():
    """With two CPU devices (what ``import bayescale`` sets up on a 2-core machine) the default
    fit splits its 4 chains over them (from 16,384 rows on it runs them in turn on one device,
    for bounded memory). Split chains and split rows both agree with sequential chains' posterior
    within Monte Carlo error, and the same seed gives the same draws."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env["BAYESCALE_CPU_DEVICES"] = "2"
    out = subprocess.run(
        [sys.executable, "-c", _PARALLEL],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["devices"] == 2 and got["chain_method"] == "parallel"
    assert got["big"] == "sequential" and got["below"] == "parallel"
    assert got["ok"] == [True, True, True] and got["shape"] == [4, 500]
    assert got["same_seed_same_draws"]
    # the progress bar counts every chain's steps, on both devices, up to 4 x 200
    done = [n for n, _ in got["progress"]]
    assert {total for _, total in got["progress"]} == {800}
    assert done == sorted(done) and done[-1] == 800
    for other in ("auto", "split"):
        for k in ("E", "alpha", "beta"):
            (m1, s1, e1), (m2, s2, e2) = got[other][k], got["seq"][k]
            mcse = np.hypot(s1 / np.sqrt(e1), s2 / np.sqrt(e2))
            assert abs(m1 - m2) < 4 * mcse, (other, k)


def test_progress_sums_the_steps_of_chains_reporting_concurrently():
    """Chains on two devices report their own positions, interleaved (and a vmapped report may
    repeat): the bar shows the sum of the chains' steps, never going back."""

    class Bar:
        n = 0

        def update(self, k):
            assert k >= 0
            self.n += k

    from bayescale._inference import _Progress

    _Progress.bar, _Progress.steps_per_chain, _Progress.done = Bar(), 100, {}
    try:
        # chain 0 on device 0 reports 20, 40; chain 2 on device 1 reports 20 (position 220)
        for position in (20, 220, 40, 40, 240, 100, 300, 120):
            _Progress.update(position)
        assert _Progress.done == {0: 100, 2: 100, 1: 20}
        assert _Progress.bar.n == 220
    finally:
        _Progress.bar = None


def test_whitening_happens_at_the_ends_of_the_metric_windows():
    """numpyro's windows for 1000 warmup steps (Stan's: buffer 75, windows 25, 50, 100, 200,
    500, end buffer 50) end at steps 99, 149, 249, 449, 949; nothing after warmup."""
    steps = np.flatnonzero(_whitening_steps(bs.NUTS(metric_shrinkage="previous")))
    assert steps.tolist() == [99, 149, 249, 449, 949]
    assert not _whitening_steps(bs.NUTS()).any()  # default: Stan's rule
    off = bs.NUTS(metric_shrinkage="previous", regularize_mass_matrix=False)
    assert not _whitening_steps(off).any()
    with pytest.raises(ValueError, match="metric_shrinkage"):
        bs.NUTS(metric_shrinkage="nope")


@pytest.mark.slow  # 14 s (dense) on 2 cores: kept out of the inner loop, which stays under 5 min
@pytest.mark.parametrize("dense_mass", [True, False])
def test_rewhitened_adaptation_samples_the_same_posterior(chinchilla_epoch, dense_mass):
    """Shrinking towards the previous metric and towards 1e-3 I (Stan, default) sample the same
    posterior on the 240 Chinchilla points: means within 4 Monte Carlo standard errors, sds
    within 10%; and, from numpyro's uniform start (the Laplace start whitens the metric before
    adaptation begins), the re-whitened rule needs fewer leapfrog steps per draw (its point)."""
    kw = {"num_warmup": 500, "num_samples": 500, "dense_mass": dense_mass, "init": "uniform"}
    new = bs.fit(chinchilla, chinchilla_epoch, seed=3, metric_shrinkage="previous", **kw)
    old = bs.fit(chinchilla, chinchilla_epoch, seed=4, **kw)
    # no post.ok: the comparison is by Monte Carlo standard errors (R-hat reached 1.012 at
    # some seeds at these settings, with the same means and sds)
    a, b = new.summary(), old.summary()
    for k in ("E", "A", "B", "alpha", "beta"):
        mcse = np.hypot(
            a.loc[k, "sd"] / np.sqrt(a.loc[k, "ess_bulk"]),
            b.loc[k, "sd"] / np.sqrt(b.loc[k, "ess_bulk"]),
        )
        assert abs(a.loc[k, "mean"] - b.loc[k, "mean"]) < 4 * mcse, k
        assert a.loc[k, "sd"] == pytest.approx(b.loc[k, "sd"], rel=0.1), k
    if dense_mass:
        assert new.stats["n_steps"].mean() < 0.6 * old.stats["n_steps"].mean()


def test_laplace_start_is_the_mode_and_covariance_of_a_gaussian():
    """On a correlated Gaussian potential with sds 1e-4 to 3 the start is its mean and
    ``scale @ scale.T`` its covariance (closed form), whatever the random starts; a flatter
    direction gets the floored curvature (sd 10)."""
    import jax
    import jax.numpy as jnp

    from bayescale._inference import _MIN_CURVATURE, _laplace_start

    mean = jnp.array([1.0, -2.0, 0.5])
    sd = jnp.array([1e-4, 1e-2, 3.0])
    corr = jnp.array([[1.0, 0.9, 0.0], [0.9, 1.0, -0.3], [0.0, -0.3, 1.0]])
    cov = corr * sd[:, None] * sd[None, :]
    prec = jnp.linalg.inv(cov)

    def potential(u):
        r = u - mean
        return 0.5 * r @ prec @ r

    centre, scale = jax.jit(_laplace_start, static_argnums=(0, 3))(
        potential, jnp.zeros(3), jax.random.PRNGKey(0), 4
    )
    assert np.max(np.abs(np.asarray(centre - mean) / np.asarray(sd))) < 1e-3  # in sds
    np.testing.assert_allclose(scale @ scale.T, cov, rtol=1e-6, atol=1e-12)
    flat = lambda u: 0.5 * jnp.sum((u / jnp.array([1.0, 1e3])) ** 2)  # noqa: E731
    _, scale = _laplace_start(flat, jnp.ones(2), jax.random.PRNGKey(1), 2)
    np.testing.assert_allclose(np.diag(scale @ scale.T), [1.0, 1 / _MIN_CURVATURE], rtol=1e-6)


def test_laplace_start_falls_back_where_the_potential_is_not_finite():
    import jax
    import jax.numpy as jnp

    from bayescale._inference import _laplace_start

    z0 = jnp.array([0.3, 0.4])
    centre, scale = _laplace_start(lambda u: jnp.nan * jnp.sum(u), z0, jax.random.PRNGKey(0), 3)
    np.testing.assert_array_equal(centre, z0)
    np.testing.assert_array_equal(scale, np.eye(2))


@pytest.mark.slow  # two sampler compilations
def test_laplace_init_samples_the_posterior_of_numpyros_own_init(chinchilla_epoch):
    """The default (start at the mode, whitened coordinates) and numpyro's init_to_uniform
    sample the same posterior on the 240 Chinchilla points (means within 4 Monte Carlo
    standard errors, sds within 10%), the default with fewer leapfrog steps per draw."""
    kw = {"num_warmup": 500, "num_samples": 500, "num_chains": 2}
    new = bs.fit(chinchilla, chinchilla_epoch, seed=5, **kw)
    old = bs.fit(chinchilla, chinchilla_epoch, seed=6, init="uniform", **kw)
    assert new.settings["init"] == "laplace" and old.settings["init"] == "uniform"
    a, b = new.summary(), old.summary()
    for k in ("E", "alpha", "beta", "sigma"):
        mcse = np.hypot(
            a.loc[k, "sd"] / np.sqrt(a.loc[k, "ess_bulk"]),
            b.loc[k, "sd"] / np.sqrt(b.loc[k, "ess_bulk"]),
        )
        assert abs(a.loc[k, "mean"] - b.loc[k, "mean"]) < 4 * mcse, k
        assert a.loc[k, "sd"] == pytest.approx(b.loc[k, "sd"], rel=0.15), k
    assert new.stats["n_steps"].mean() < 0.6 * old.stats["n_steps"].mean()


@pytest.mark.slow  # two sampler compilations
def test_a_failed_default_fit_escalates_and_says_so(chinchilla_epoch, monkeypatch):
    """A fit that fails its diagnostics is refitted with the escalated settings, and the
    Posterior's notes (and repr) say what was done; settings a user chose are not escalated
    unless asked (escalate=True)."""
    from bayescale import _fit

    # one escalation step that makes a failing fit pass: back to a sensible target acceptance
    step = (
        "target_accept_prob=0.9",
        lambda s: __import__("dataclasses").replace(s, target_accept_prob=0.9),
    )
    monkeypatch.setattr(_fit, "_ESCALATION", (step,))
    kw = dict(num_chains=2, num_warmup=300, num_samples=300, dense_mass=False)
    bad = dict(kw, target_accept_prob=0.01, max_tree_depth=3)
    with pytest.warns(bs.ConvergenceWarning):
        kept = bs.fit(chinchilla, chinchilla_epoch, seed=0, **bad)
    assert not kept.ok and kept.notes == ()
    post = bs.fit(chinchilla, chinchilla_epoch, seed=0, escalate=True, **bad)
    assert post.settings["target_accept_prob"] == 0.9
    assert len(post.notes) >= 1 and "refitted with target_accept_prob=0.9" in post.notes[0]
    assert "failed its diagnostics (" in post.notes[0]
    assert "note: the fit failed its diagnostics" in repr(post)


def test_compilation_cache_is_on_by_default_and_off_by_one_variable(tmp_path):
    """BAYESCALE_COMPILATION_CACHE turns on JAX's persistent cache when bayescale's API is
    first used (size-limited, so JAX locks the folder across processes) and names its folder;
    it is on by default, in the user's cache folder."""
    probe = (
        "import bayescale, jax; bayescale.fit; c = jax.config; "
        "print(c.jax_compilation_cache_dir, c.jax_compilation_cache_max_size)"
    )
    env = {k: v for k, v in os.environ.items() if k != "BAYESCALE_COMPILATION_CACHE"}

    def run(**extra):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.split()

    folder = tmp_path / "cache"
    assert run(BAYESCALE_COMPILATION_CACHE=str(folder)) == [str(folder), str(2 * 1024**3)]
    assert folder.is_dir()
    assert run(BAYESCALE_COMPILATION_CACHE="0")[0] == "None"
    home = tmp_path / "home"
    assert run(XDG_CACHE_HOME=str(home))[0] == str(home / "bayescale" / "jax")  # on by default
    on = run(BAYESCALE_COMPILATION_CACHE="1", XDG_CACHE_HOME=str(tmp_path))
    assert on[0] == str(tmp_path / "bayescale" / "jax")


def test_a_catalog_sampler_is_stored_traced_and_gives_the_same_draws(
    chinchilla_epoch, monkeypatch, tmp_path
):
    """With the compilation cache on (the suite's), a catalog law's NUTS program is exported to
    the cache folder: the stored program gives the draws of the program traced in-process, a
    file that cannot be read is exported again, and a law with changed priors is not stored."""
    import numpyro.distributions as dist

    from bayescale import _programs

    df = chinchilla_epoch.iloc[:64]
    small = {"num_chains": 2, "num_warmup": 150, "num_samples": 100, "seed": 4}
    assert _programs._folder() is not None  # tests/conftest.py turns the cache on
    # A folder of its own: other workers of the suite store their programs in the shared one.
    folder = str(tmp_path / "programs")
    monkeypatch.setattr(_programs, "_folder", lambda: folder)

    def fit_fresh(law):
        _programs._LOADED.clear()  # as in a new process
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bs.fit(law, df, **small)

    def stored():
        return set(os.listdir(folder)) if os.path.isdir(folder) else set()

    before = stored()
    exported = fit_fresh(chinchilla)
    (new,) = stored() - before
    loaded = fit_fresh(chinchilla)
    with open(os.path.join(folder, new), "wb") as fh:
        fh.write(b"not a program")
    rewritten = fit_fresh(chinchilla)
    with monkeypatch.context() as m:
        m.setattr(_programs, "_folder", lambda: None)
        traced = fit_fresh(chinchilla)
    for post in (exported, loaded, rewritten):
        for name, draws in traced.draws.items():
            np.testing.assert_array_equal(post.draws[name], draws)
    assert os.path.getsize(os.path.join(folder, new)) > 1000  # exported again, whole
    _programs._LOADED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # priors changed: traced as a user's law, not stored
        bs.fit(chinchilla, df, priors={"alpha": dist.Uniform(0.0, 1.0)}, **small)
    assert stored() - before == {new}


def test_a_notebook_fit_says_it_compiles_then_shows_progress(monkeypatch, capsys):
    """In a Jupyter kernel a default or named NUTS fit shows progress: a "compiling" line first,
    then the bar (started after compilation, so its ETA times sampling alone), on stdout; a
    method value keeps its own setting, and outside a notebook there is no bar."""
    from bayescale import _fit, _inference

    df = bs.datasets.load("chinchilla", variant="epoch").iloc[::12]
    small = {"num_chains": 2, "num_warmup": 30, "num_samples": 30}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bs.fit(chinchilla, df, seed=0, **small)
        assert "compiling" not in capsys.readouterr().out
        monkeypatch.setattr(_fit, "in_notebook", lambda: True)
        monkeypatch.setattr(_inference, "in_notebook", lambda: True)
        bs.fit(chinchilla, df, seed=0, **small)
        out = capsys.readouterr().out
        assert out.index(f"compiling NUTS for chinchilla ({len(df)} rows)") < out.index(
            "NUTS 2 chains (warmup 30)"
        )
        assert "120/120" in out  # 2 chains x (30 + 30) steps
        bs.fit(chinchilla, df, seed=0, method=bs.NUTS(**small))
        assert "compiling" not in capsys.readouterr().out
