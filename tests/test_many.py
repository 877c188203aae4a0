"""fit_many: one compiled call over many datasets (padding/masking), sharding over devices, no
retrace for same-shaped data, persistent compilation cache, and the lock-step ChEES sampler."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._many import TRACE_COUNT

TRUE = {"E": 1.82, "A": 482.0, "B": 2085.0, "alpha": 0.35, "beta": 0.37}


def simulate(seed: int, n: int, sigma: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
    return pd.DataFrame({"N": N, "D": D, "loss": L * np.exp(sigma * rng.standard_normal(n))})


@pytest.fixture(scope="module")
def datasets():
    # different lengths, all padded to 64 rows (one compiled single fit, one batched)
    return [simulate(0, 40), simulate(1, 60), simulate(2, 50)]


@pytest.mark.slow  # 21 s: three NUTS compiles
def test_many_equals_one_at_a_time_despite_padding(datasets):
    posts = bs.fit_many(chinchilla, datasets, method="map", seed=0)
    assert len(posts) == 3
    for df, post in zip(datasets, posts, strict=True):
        assert post.method == "map" and post.approximate
        assert len(post.data) == len(df)  # the padded rows are not part of the result
        one = bs.fit(chinchilla, df, method="map", seed=0)
        for k in ("E", "alpha", "beta"):
            # the same optimum (L-BFGS tolerance), so padding/masking changed nothing
            assert post.samples[k][0] == pytest.approx(one.samples[k][0], rel=1e-4), k


def test_second_same_shaped_call_does_not_retrace(datasets):
    bs.fit_many(chinchilla, datasets, method="map", seed=0)
    before = TRACE_COUNT["map"]
    shuffled = [simulate(10 + i, len(d)) for i, d in enumerate(datasets)]
    posts = bs.fit_many(chinchilla, shuffled, method="map", seed=5)
    assert TRACE_COUNT["map"] == before
    assert all(np.isfinite(p.samples["alpha"][0]) for p in posts)
    # a different padded shape does trace again
    bs.fit_many(chinchilla, [simulate(20, 150)], method="map", seed=0)
    assert TRACE_COUNT["map"] == before + 1


def test_bad_dataset_is_named(datasets):
    bad = datasets[1].copy()
    bad.loc[bad.index[3], "loss"] = np.nan
    with pytest.raises(bs.DataError, match=r"dataset 1: .*'loss'"):
        bs.fit_many(chinchilla, [datasets[0], bad], method="map")
    with pytest.raises(TypeError, match="no option"):
        bs.fit_many(chinchilla, datasets, method="map", num_bootstrap=4)


_SUBPROCESS = textwrap.dedent(
    """
    import json, os, sys
    import jax, numpy as np, pandas as pd
    import bayescale as bs
    from bayescale.models import chinchilla
    cache = sys.argv[1]
    bs.enable_compilation_cache(cache, min_compile_time_s=0.0)
    frames = [pd.read_json(p) for p in sys.argv[2:]]
    posts = bs.fit_many(chinchilla, frames, method="map", seed=0)
    # the batched diagnostics of fit_many's samplers, on draws sharded over the devices
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    from bayescale._diagnostics import convergence_table, convergence_tables
    mesh = Mesh(np.array(jax.local_devices()), ("data",))
    walk = np.random.default_rng(0).standard_normal((4, 4, 100)).cumsum(axis=2)
    sharded = jax.device_put(walk, NamedSharding(mesh, PartitionSpec("data")))
    tables = convergence_tables({"x": sharded})
    rhat_gap = max(
        abs(t.loc["x", "r_hat"] - convergence_table({"x": walk[i]}).loc["x", "r_hat"])
        for i, t in enumerate(tables)
    )
    print(json.dumps({
        "devices": len(jax.local_devices()),
        "alpha": [float(p.samples["alpha"][0]) for p in posts],
        "cache_files": len(os.listdir(cache)),
        "rhat_gap": float(rhat_gap),
    }))
    """
)


@pytest.mark.slow
def test_sharded_over_two_cpu_devices_and_compile_cache(datasets, tmp_path):
    """The multi-device path: 3 datasets padded to 4 and sharded over 2 forced host devices,
    and the batched diagnostics of draws sharded the same way, in a subprocess (XLA_FLAGS must
    be set before JAX starts)."""
    paths = []
    for i, df in enumerate(datasets):
        p = tmp_path / f"d{i}.json"
        df.to_json(p)
        paths.append(str(p))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    env.pop("JAX_PLATFORMS", None)
    cache = tmp_path / "jax_cache"
    out = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, str(cache), *paths],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 2
    assert result["cache_files"] > 0
    assert result["rhat_gap"] < 1e-10
    here = bs.fit_many(chinchilla, datasets, method="map", seed=0)
    np.testing.assert_allclose(
        result["alpha"], [p.samples["alpha"][0] for p in here], rtol=1e-4, atol=0
    )


@pytest.mark.slow
def test_chees_many_matches_nuts_on_chinchilla_bootstrap():
    """ChEES in lock-step on the real Chinchilla points and 3 bootstrap replicates: every fit
    passes the same diagnostics as NUTS, and on the original points its posterior agrees with
    NUTS's to within Monte Carlo error."""
    df = bs.datasets.load("chinchilla", variant="epoch")
    rng = np.random.default_rng(0)
    frames = [df] + [df.iloc[rng.integers(0, len(df), len(df))] for _ in range(3)]
    posts = bs.fit_many(chinchilla, frames, method="chees", seed=1, num_chains=8)
    for post in posts:
        assert not post.approximate and post.method == "chees"
        assert post.draws["alpha"].shape == (8, 500)
        assert post.ok, post.problems  # R-hat <= 1.01, ESS >= 400, no divergences, E-BFMI
    nuts = bs.fit(chinchilla, df, seed=0)
    a, b = posts[0].summary(), nuts.summary()
    for k in ("E", "alpha", "beta"):
        # difference of two independent estimates of the posterior mean, in units of its MCSE
        mcse = np.hypot(
            a.loc[k, "sd"] / np.sqrt(a.loc[k, "ess_bulk"]),
            b.loc[k, "sd"] / np.sqrt(b.loc[k, "ess_bulk"]),
        )
        assert abs(a.loc[k, "mean"] - b.loc[k, "mean"]) < 4 * mcse, k
        assert a.loc[k, "sd"] == pytest.approx(b.loc[k, "sd"], rel=0.1), k


def _ar1_chains(rng, n_fit, rho, shift):
    """(fit, chain, draw) AR(1) chains with autocorrelation ``rho``; chain 0 shifted by ``shift``
    (in stationary sds), so R-hat ranges from ~1.00 (shift 0) to far above 1.01."""
    eps = rng.standard_normal((n_fit, 4, 400))
    x = np.empty_like(eps)
    x[..., 0] = eps[..., 0]
    for t in range(1, x.shape[-1]):
        x[..., t] = rho[:, None] * x[..., t - 1] + np.sqrt(1 - rho[:, None] ** 2) * eps[..., t]
    x[:, 0] += shift[:, None]
    return x


def test_batched_device_diagnostics_give_arviz_verdicts():
    """fit_many diagnoses all fits in one device call (BlackJAX estimators); R-hat equals ArviZ's,
    ESS is within 3% of it, and every pass/fail verdict equals the one from ArviZ's table,
    including fits placed near the thresholds (recomputed on the host)."""
    from bayescale._diagnostics import check_convergence, convergence_table, convergence_tables

    rng = np.random.default_rng(0)
    n_fit = 60
    rho = rng.uniform(0.0, 0.9, n_fit)  # ESS from ~1600 down to ~90: around the bar of 400
    shift = np.where(rng.uniform(size=n_fit) < 0.3, rng.uniform(0, 0.3, n_fit), 0.0)
    draws = {"a": _ar1_chains(rng, n_fit, rho, shift), "b": _ar1_chains(rng, n_fit, rho, 0 * shift)}
    tables = convergence_tables(draws)
    stats = {"diverging": np.zeros((4, 400), bool), "n_steps": np.ones((4, 400))}
    stats["energy"] = rng.standard_normal((4, 400))
    verdicts = []
    for i, table in enumerate(tables):
        ref = convergence_table({k: v[i] for k, v in draws.items()})
        np.testing.assert_allclose(table["r_hat"], ref["r_hat"], rtol=1e-10)
        np.testing.assert_allclose(
            table[["ess_bulk", "ess_tail"]], ref[["ess_bulk", "ess_tail"]], rtol=0.03
        )
        got = check_convergence(table, stats, max_tree_depth=10, warn=False)
        want = check_convergence(ref, stats, max_tree_depth=10, warn=False)
        assert bool(got) == bool(want), i
        verdicts.append(bool(want))
    # the set covers both verdicts, so the comparison above means something
    assert 0.2 < np.mean(verdicts) < 0.9


def test_data_warnings_of_many_datasets_come_as_one(datasets):
    with_dup = [pd.concat([d, d.iloc[:3]], ignore_index=True) for d in datasets]
    with pytest.warns(bs.DataWarning) as record:
        bs.fit_many(chinchilla, with_dup, method="map")
    data_warnings = [w for w in record if issubclass(w.category, bs.DataWarning)]
    assert len(data_warnings) == 1
    assert "3 of 3 datasets raised data warnings (datasets [0, 1, 2])" in str(
        data_warnings[0].message
    )
    assert "repeat an earlier row" in str(data_warnings[0].message)


def test_parallel_chains_are_for_fit_not_fit_many(datasets):
    """fit_many splits datasets over the devices; splitting each fit's chains too is refused."""
    with pytest.raises(ValueError, match="fit_many splits its datasets"):
        bs.fit_many(chinchilla, datasets, method="nuts", chain_method="parallel")


def test_vector_sites_are_diagnosed_element_by_element():
    """A grouped law's per-group effects are (chain, draw, group) arrays: each element gets its
    own R-hat and ESS (they were skipped, so a stuck group effect passed), in the single-fit
    table and in fit_many's batched one alike."""
    from bayescale._diagnostics import check_convergence, convergence_table, convergence_tables

    rng = np.random.default_rng(1)
    n_fit = 3
    still = np.zeros(n_fit)
    parts = [_ar1_chains(rng, n_fit, np.full(n_fit, 0.3), s) for s in (still, still + 1.0, still)]
    draws = {
        "z": np.stack(parts, axis=-1),
        "a": _ar1_chains(rng, n_fit, np.full(n_fit, 0.3), still),
    }
    stats = {"diverging": np.zeros((4, 400), bool), "n_steps": np.ones((4, 400))}
    stats["energy"] = rng.standard_normal((4, 400))
    for i, table in enumerate(convergence_tables(draws)):
        one = convergence_table({k: v[i] for k, v in draws.items()})
        assert list(one.index) == ["z[0]", "z[1]", "z[2]", "a"] == list(table.index)
        for t in (one, table):
            bad = t.index[t["r_hat"] > 1.01].tolist()
            assert bad == ["z[1]"], t
            problems = check_convergence(t, stats, max_tree_depth=10, warn=False)
            assert any("z[1]" in p for p in problems)
