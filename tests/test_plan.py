"""Planning a run: isoFLOP allocation (Approach 2) with uncertainty, cost, and prob_reach."""

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from isoflop_cases import A_TRUE, BUDGETS, grid_posterior, isoflop_grid, law_loss, n_opt
from scipy import optimize, stats

import bayescale as bs


@pytest.fixture
def quiet():
    """Any warning is an error inside: the tests below say which warnings they expect."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ----------------------------------------------------------------------------- isoflop


@pytest.mark.parametrize(
    "noise, lowest, highest",
    [
        # one noise variance, as simulated: calibrated. 200 replicates: a binomial sd of 0.021
        # around 0.9, so 3 sd either side
        ("pooled", 0.836, 0.964),
        # a variance per curve from its own few runs sums independent Student-t's (the
        # Behrens-Fisher problem): conservative when the variance is in fact shared (0.948 in
        # 1000 replicates), never below the level
        ("per_budget", 0.836, 0.99),
    ],
)
def test_the_interval_of_a_covers_the_truth_at_its_level(noise, lowest, highest):
    rng = np.random.default_rng(2)
    replicates, covered = 200, 0
    for r in range(replicates):
        data = isoflop_grid(rng, runs=7, half=0.5, sigma=0.005)  # a few runs, some noise
        with warnings.catch_warnings():  # a few replicates have a curve without a minimum in
            warnings.simplefilter("ignore", bs.DataWarning)  # some draws: it is reported
            t = bs.isoflop_allocation(data, 1e24, seed=r, num_draws=1000, noise=noise)
        covered += t["a_lower"].iloc[0] <= A_TRUE <= t["a_upper"].iloc[0]
    assert lowest <= covered / replicates <= highest, covered / replicates


def test_noiseless_curves_recover_the_exponent_and_the_optimum(quiet):
    data = isoflop_grid(np.random.default_rng(0), sigma=0.0, jitter=0.0)
    data["loss"] *= np.exp(1e-9 * np.random.default_rng(1).standard_normal(len(data)))
    t = bs.isoflop_allocation(data, 5.76e23, budget="budget")
    # a parabola through the law's curve near its minimum: its vertex within 1% of N*
    assert abs(t["a"].iloc[0] - A_TRUE) < 2e-3
    assert t["N_opt"].iloc[0] == pytest.approx(n_opt(5.76e23), rel=0.02)
    # the parabola's misfit to the law is all the noise there is
    assert t["a_upper"].iloc[0] - t["a_lower"].iloc[0] < 0.01


@pytest.mark.parametrize("exact", [True, False])
def test_the_vertex_is_the_minimiser_of_the_fitted_parabola(exact, quiet):
    rng = np.random.default_rng(3)
    data = isoflop_grid(rng, sigma=0.0)  # the law's curves: nearly parabolas
    if exact:  # parabolas in ln N, of random curvature and centre: every draw is the fit
        for _, runs in data.groupby("budget"):
            x = np.log(runs["N"].to_numpy())
            centre = x.mean() + rng.uniform(-0.5, 0.5)
            data.loc[runs.index, "loss"] = np.exp(1.0 + rng.uniform(0.01, 0.1) * (x - centre) ** 2)
    minima = bs.isoflop_minima(data, budget="budget")
    for (_, runs), (_, row) in zip(data.groupby("budget"), minima.iterrows(), strict=True):
        x, y = np.log(runs["N"].to_numpy()), np.log(runs["loss"].to_numpy())
        coef = np.polyfit(x, y, 2)  # the least-squares parabola, minimised numerically
        found = optimize.minimize_scalar(
            lambda v, c=coef: np.polyval(c, v),
            bounds=(x.min() - 1, x.max() + 1),
            method="bounded",
            options={"xatol": 1e-10},
        )
        # exact: the draws are the fit; the law: the median of draws about it (its misfit)
        assert row["N_opt"] == pytest.approx(math.exp(found.x), rel=1e-6 if exact else 1e-3)
        assert row["runs"] == len(runs) and row["p_no_minimum"] == 0
        assert row["N_min"] == pytest.approx(runs["N"].min(), rel=1e-12)
        assert row["N_max"] == pytest.approx(runs["N"].max(), rel=1e-12)


def test_the_table_mirrors_posterior_allocate(quiet):
    data = isoflop_grid(np.random.default_rng(4))
    C = np.array([1e22, 5.76e23])
    t = bs.isoflop_allocation(data, C, level=0.8)
    for q in ("N_opt", "D_opt", "tokens_per_param", "a", "b"):
        assert (t[f"{q}_lower"] <= t[q]).all() and (t[q] <= t[f"{q}_upper"]).all()
    np.testing.assert_allclose(6 * t["N_opt"] * t["D_opt"], C)  # the budget, spent exactly
    np.testing.assert_allclose(6 * t["N_opt_lower"] * t["D_opt_upper"], C)
    np.testing.assert_allclose(t["tokens_per_param"], t["D_opt"] / t["N_opt"])
    np.testing.assert_allclose(t["a"] + t["b"], 1.0)
    assert t["a"].nunique() == 1  # one power law for every budget
    np.testing.assert_allclose(t["extrapolation"], np.log10(C / 3e21), rtol=1e-2)
    assert t.attrs["level"] == 0.8 and t.attrs["method"] == "isoflop"
    assert t.attrs["runs"] == (9,) * 5 and t.attrs["left_out"] == 0
    np.testing.assert_allclose(t.attrs["budgets"], BUDGETS)


def test_budgets_by_label_by_value_and_by_compute_agree(quiet):
    data = isoflop_grid(np.random.default_rng(5))
    stray = pd.DataFrame({"N": [3e9], "D": [1e23 / 6 / 3e9], "loss": [2.5], "budget": "x"})
    by_label = bs.isoflop_allocation(data, 1e23, budget="budget")
    by_value = bs.isoflop_allocation(pd.concat([data, stray]), 1e23, budgets=BUDGETS * 1.03)
    by_compute = bs.isoflop_allocation(pd.concat([data, stray]), 1e23)
    pd.testing.assert_frame_equal(by_label, by_value, check_exact=False, rtol=1e-10)
    pd.testing.assert_frame_equal(by_label, by_compute, check_exact=False, rtol=1e-10)
    assert by_value.attrs["left_out"] == 1 and by_compute.attrs["left_out"] == 1


def test_numeric_budget_labels_and_a_repeated_index(quiet):
    data = isoflop_grid(np.random.default_rng(5))
    by_label = bs.isoflop_allocation(data, 1e23, budget="budget")
    nominal = data.assign(budget=data["budget"].map({f"c{i}": c for i, c in enumerate(BUDGETS)}))
    halves = pd.concat([nominal.iloc[:20], nominal.iloc[20:].reset_index(drop=True)])
    assert not halves.index.is_unique
    pd.testing.assert_frame_equal(bs.isoflop_allocation(halves, 1e23, budget="budget"), by_label)
    with pytest.raises(ValueError, match=r"budget=6e\+18: 2 run\(s\)"):
        bs.isoflop_allocation(nominal.iloc[7:], 1e23, budget="budget")


def test_the_loss_scale_and_log_loss_agree_closely(quiet):
    data = isoflop_grid(np.random.default_rng(6))
    on_log = bs.isoflop_allocation(data, 1e23)
    on_loss = bs.isoflop_allocation(data, 1e23, log_loss=False)
    assert on_loss["a"].iloc[0] == pytest.approx(on_log["a"].iloc[0], abs=0.01)


def test_parabolas_without_a_minimum_are_reported_not_dropped():
    rng = np.random.default_rng(7)
    data = isoflop_grid(rng, sigma=0.005)
    # the largest curve: runs on one side of its minimum only, noisy, nearly flat
    last = data["budget"] == "c4"
    C = BUDGETS[-1]
    N = n_opt(C) * np.geomspace(1.0, 1.6, 9)
    data.loc[last, "N"], data.loc[last, "D"] = N, C / (6 * N)
    data.loc[last, "loss"] = 2.1 * np.exp(0.01 * rng.standard_normal(9))
    minima = bs.isoflop_minima(data, budget="budget")
    share = minima["p_no_minimum"].iloc[-1]
    assert 0.05 < share < 0.95 and (minima["p_no_minimum"].iloc[:-1] < 0.01).all()
    with pytest.warns(bs.DataWarning, match="open downward") as record:
        t = bs.isoflop_allocation(data, 1e23, budget="budget")
    assert "C=3e+21" in str(record[0].message)
    assert t.attrs["p_no_minimum"] == pytest.approx(share, abs=0.02)
    # a curve that always opens downward: no draw has every minimum
    data.loc[last, "loss"] = 3.0 - 0.05 * (np.log(N) - np.log(N).mean()) ** 2
    with pytest.raises(ValueError, match=r"no posterior draw has a minimum.*C=3e\+21 \(1\)"):
        bs.isoflop_allocation(data, 1e23, budget="budget")


def test_a_minimum_beyond_the_runs_is_warned():
    data = isoflop_grid(np.random.default_rng(8), jitter=0.0)
    first = data["budget"] == "c0"
    N = n_opt(BUDGETS[0]) * np.geomspace(1.5, 10.0, 9)  # all larger than N*
    data.loc[first, "N"], data.loc[first, "D"] = N, BUDGETS[0] / (6 * N)
    data.loc[first, "loss"] = law_loss(N, BUDGETS[0] / (6 * N))
    with pytest.warns(bs.DataWarning, match="outside the model sizes of its runs"):
        bs.isoflop_allocation(data, 1e23, budget="budget")


def _two_sizes(data, budget):
    rows = data.index[data["budget"] == budget]
    data = data.copy()
    data.loc[rows[:3], "N"] = data.loc[rows[0], "N"]
    data.loc[rows[3:], "N"] = data.loc[rows[-1], "N"]
    return data


def _drop_runs(data, budget, keep):
    rows = data.index[data["budget"] == budget]
    return data.drop(rows[keep:])


@pytest.mark.parametrize(
    "change, kwargs, error, message",
    [
        (lambda d: d[d["budget"].isin(["c0", "c1"])], {}, ValueError, "at least 3 FLOP budgets"),
        (
            lambda d: _drop_runs(d, "c2", 2),
            {"budget": "budget"},
            ValueError,
            r"budget='c2': 2 run\(s\)",
        ),
        (lambda d: d, {"budgets": [*BUDGETS, 1e22]}, ValueError, r"C=1e\+22: 0 run\(s\)"),
        (
            lambda d: _two_sizes(d, "c1"),
            {"budget": "budget"},
            ValueError,
            r"budget='c1' has runs at only 2 distinct model size\(s\)",
        ),
        (lambda d: d.groupby("budget").head(3), {}, ValueError, "exactly 3 runs"),
        (lambda d: d, {"budget": "budget", "budgets": BUDGETS}, ValueError, "not both"),
        (lambda d: d, {"budget": "curve"}, ValueError, "no column 'curve'"),
        (lambda d: d, {"tolerance": 1.0}, ValueError, "factor above 1"),
        (lambda d: d, {"level": 1.5}, ValueError, "level must be a probability"),
        (lambda d: d, {"num_draws": 10}, ValueError, "at least 100"),
        (lambda d: d, {"noise": "shared"}, ValueError, "'per_budget' or 'pooled'"),
        (lambda d: d, {"log_loss": "yes"}, TypeError, "log_loss"),
        (lambda d: d, {"flops_per_param_token": 0}, ValueError, "flops_per_param_token"),
        (lambda d: d, {"seed": -1}, ValueError, "seed"),
        (lambda d: d.drop(columns="loss"), {}, bs.DataError, "missing column 'loss'"),
    ],
)
def test_bad_input_is_named(change, kwargs, error, message):
    data = change(isoflop_grid(np.random.default_rng(9)))
    with pytest.raises(error, match=message):
        bs.isoflop_allocation(data, 1e23, **kwargs)


def test_too_few_budgets_names_those_found():
    data = isoflop_grid(np.random.default_rng(9), budgets=BUDGETS[:2])
    with pytest.raises(ValueError, match=r"found 2: C=6e\+18 \(9 runs\), C=3e\+19 \(9 runs\)"):
        bs.isoflop_allocation(data, 1e23)


def test_runs_on_no_isoflop_curve_are_refused_by_name():
    N = np.geomspace(1e8, 1e9, 6)
    D = N * np.tile([10.0, 40.0], 3)  # no two runs' compute within a factor 1.5
    data = pd.DataFrame({"N": N, "D": D, "loss": law_loss(N, D)})
    with pytest.raises(ValueError, match=r"found 0 \(runs within a factor tolerance=1.1"):
        bs.isoflop_allocation(data, 1e23)


@pytest.mark.parametrize("C", [-1.0, 0.0, np.nan, [], "big"])
def test_budgets_to_allocate_are_checked(C):
    with pytest.raises(ValueError, match="C"):
        bs.isoflop_allocation(isoflop_grid(np.random.default_rng(9)), C)


def test_a_table_with_compute_instead_of_tokens():
    data = isoflop_grid(np.random.default_rng(10))
    with_c = data.assign(C=6 * data["N"] * data["D"]).drop(columns="D")
    pd.testing.assert_frame_equal(
        bs.isoflop_allocation(with_c, 1e23), bs.isoflop_allocation(data, 1e23)
    )


# ----------------------------------------------------------------------------- posteriors


def test_allocate_isoflop_is_approach_2_on_the_fits_runs(quiet):
    data = isoflop_grid(np.random.default_rng(12))
    post = grid_posterior(data)
    got = post.allocate([1e22, 1e23], method="isoflop", seed=4)
    want = bs.isoflop_allocation(data, [1e22, 1e23], seed=4)
    pd.testing.assert_frame_equal(got, want)
    # the default is the law's own allocation, as before
    pd.testing.assert_frame_equal(post.allocate(1e23), post.allocate(1e23, method="parametric"))
    assert post.allocate(1e23, method="isoflop", tolerance=1.05).attrs["runs"] == (9,) * 5


def test_estimators_that_disagree_are_warned():
    data = isoflop_grid(np.random.default_rng(13))
    post = grid_posterior(data, beta=0.5)  # the law's a = 0.5/0.84 = 0.6, the runs' 0.45
    with pytest.warns(bs.DataWarning, match="do not overlap at C=1e\\+23") as record:
        post.allocate(1e23, method="isoflop")
    assert record[0].filename == __file__  # at the caller's line
    with pytest.warns(bs.DataWarning, match="intervals of the exponent a") as record:
        table = bs.compare_allocations(post, [1e22, 1e23])
    assert record[0].filename == __file__
    assert table["method"].tolist() == ["parametric", "isoflop"] * 2
    assert table["C"].tolist() == [1e22, 1e22, 1e23, 1e23]
    assert "loss_pred" not in table.columns and {"a_lower", "N_opt_upper"} <= set(table.columns)
    parametric = table[table["method"] == "parametric"]
    assert parametric["a"].to_numpy() == pytest.approx(0.5 / 0.84, abs=1e-3)


def test_estimators_that_agree_are_not_warned(quiet):
    data = isoflop_grid(np.random.default_rng(14))
    table = bs.compare_allocations(grid_posterior(data, sd=0.01), 1e23)
    lo, hi = table["a_lower"].to_numpy(), table["a_upper"].to_numpy()
    assert max(lo) <= min(hi)


def test_allocate_checks_its_method():
    post = grid_posterior(isoflop_grid(np.random.default_rng(15)))
    with pytest.raises(ValueError, match="'parametric' or 'isoflop'"):
        post.allocate(1e23, method="approach2")
    with pytest.raises(ValueError, match="method='isoflop' only"):
        post.allocate(1e23, tolerance=1.2)


# ----------------------------------------------------------------------------- cost


def test_cost_of_chinchilla_on_1024_a100s_by_hand():
    hw = bs.Hardware.preset("a100", count=1024, mfu=0.4, price_per_hour=1.5)
    t = bs.cost(5.76e23, hardware=hw)
    hours = 5.76e23 / (312e12 * 0.4) / 3600  # one accelerator at 40% of its peak
    assert t["accelerator_hours"].iloc[0] == pytest.approx(hours, rel=1e-12)
    assert t["accelerator_hours"].iloc[0] == pytest.approx(1.2821e6, rel=1e-4)
    assert t["days"].iloc[0] == pytest.approx(hours / 1024 / 24, rel=1e-12)  # ~52.2 days
    assert t["days"].iloc[0] == pytest.approx(52.17, abs=0.01)
    assert t["cost"].iloc[0] == pytest.approx(1.5 * hours, rel=1e-12)
    assert t.attrs["hardware"] == hw
    assert hw.flops_per_second == pytest.approx(1024 * 312e12 * 0.4)


def test_cost_of_arrays_and_of_tables_with_intervals():
    hw = bs.Hardware("mine", 1e15, mfu=0.5, count=10)  # 5e15 FLOP/s together, no price
    t = bs.cost([3.6e18, 7.2e18], hardware=hw)
    np.testing.assert_allclose(t["accelerator_hours"], [2.0, 4.0])
    np.testing.assert_allclose(t["days"], [0.2 / 24, 0.4 / 24])
    assert t["cost"].isna().all()
    plan = pd.DataFrame(
        {"loss": [2.0, 1.9], "C": [3.6e18, 7.2e18], "C_lower": [1.8e18, 3.6e18]}
    ).assign(C_upper=[7.2e18, np.inf])
    t = bs.cost(plan, hardware=hw)
    assert list(t.columns[:4]) == ["loss", "C", "C_lower", "C_upper"]
    np.testing.assert_allclose(t["accelerator_hours_lower"], [1.0, 2.0])
    assert t["accelerator_hours_upper"].iloc[1] == np.inf and t["days_upper"].iloc[1] == np.inf
    assert "accelerator_hours_upper" in t and "C" in plan and "days" not in plan  # a copy


def test_presets_and_their_names():
    assert bs.HARDWARE["a100"].peak_flops == 312e12
    assert bs.HARDWARE["h100"].peak_flops == 989e12  # dense: 1979e12 is with sparsity
    assert bs.HARDWARE["h200"].peak_flops == 989e12
    assert bs.HARDWARE["b200"].peak_flops == 2.25e15
    assert bs.HARDWARE["mi300x"].peak_flops == 1307.4e12
    assert bs.HARDWARE["tpu_v4"].peak_flops == 275e12
    assert bs.HARDWARE["tpu_v5e"].peak_flops == 197e12
    assert bs.HARDWARE["tpu_v5p"].peak_flops == 459e12
    assert bs.Hardware.preset("TPU v5p") == bs.HARDWARE["tpu_v5p"]
    assert bs.Hardware.preset("H100-PCIe").peak_flops == 756e12
    by_name = bs.cost(1e24, hardware="h100")
    by_object = bs.cost(1e24, hardware=bs.HARDWARE["h100"])
    pd.testing.assert_frame_equal(by_name, by_object)
    with pytest.raises(TypeError):
        bs.HARDWARE["x"] = bs.HARDWARE["a100"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        bs.HARDWARE["a100"].count = 8


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: bs.Hardware.preset("v100"), "unknown hardware 'v100'; presets: a100, h100"),
        (lambda: bs.Hardware("x", 312), "not TFLOP/s"),
        (lambda: bs.Hardware("x", -1.0), "peak_flops must be a finite positive"),
        (lambda: bs.Hardware("x", 1e15, mfu=0.0), "mfu must be a fraction"),
        (lambda: bs.Hardware("x", 1e15, mfu=40), "mfu must be a fraction"),
        (lambda: bs.Hardware("x", 1e15, count=0), "count must be a positive integer"),
        (lambda: bs.Hardware("x", 1e15, count=2.5), "count must be a positive integer"),
        (lambda: bs.Hardware("x", 1e15, count=True), "count must be a positive integer"),
        (lambda: bs.Hardware("x", 1e15, price_per_hour=-2), "price_per_hour"),
        (lambda: bs.Hardware("", 1e15), "name must be a non-empty string"),
        (lambda: bs.cost(-1.0, hardware="h100"), "C must be finite and positive"),
        (lambda: bs.cost([1e20, np.inf], hardware="h100"), "C must be finite and positive"),
        (lambda: bs.cost(pd.DataFrame({"loss": [2.0]}), hardware="h100"), "no 'C' column"),
        (
            lambda: bs.cost(pd.DataFrame({"C": [1e20, np.nan]}), hardware="h100"),
            r"column 'C' must hold positive FLOPs; row\(s\) \[1\]",
        ),
    ],
)
def test_bad_hardware_and_budgets_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_cost_needs_hardware_by_object_or_name():
    with pytest.raises(TypeError, match="Hardware or a preset's name"):
        bs.cost(1e20, hardware=312e12)


# ----------------------------------------------------------------------------- prob_reach


@pytest.fixture(scope="module")
def grid_post():
    data = isoflop_grid(np.random.default_rng(16))
    return grid_posterior(data, sd=0.01, num_draws=4000, discrepancy=bs.Discrepancy.fixed(0.03))


def test_p_reach_is_the_share_of_forecast_draws_below_the_target(grid_post, quiet):
    far = {"N": 7e10, "D": 1.4e12}  # beyond the data: the law's own error counts too
    fc = grid_post.forecast(level=0.9, seed=5, **far)
    assert fc["distance"].iloc[0] > 0.5
    targets = fc[["pred_lower", "pred_median", "pred_upper"]].to_numpy()[0]
    t = grid_post.prob_reach(targets, seed=5, **far)
    # the forecast's quantiles of the same draws: P(y <= q_p) = p to one draw in 4000
    np.testing.assert_allclose(t["p_reach"], [0.05, 0.5, 0.95], atol=2 / 4000)
    assert t.columns.tolist() == ["N", "D", "loss", "p_reach", "p_reach_se", "distance"]
    # independent draws: the standard error of a share
    p = t["p_reach"].to_numpy()
    np.testing.assert_allclose(t["p_reach_se"], np.sqrt(p * (1 - p) / 4000), rtol=0.15)


def test_p_reach_inside_the_data_is_the_share_of_predictive_draws(grid_post, quiet):
    x = {"N": np.array([4e8, 1e9]), "D": np.array([2e10, 2e10])}
    target = law_loss(x["N"], x["D"]) * 1.003
    t = grid_post.prob_reach(target, seed=2, **x)
    draws = grid_post.predictive(x, seed=2)  # no law error inside the data
    np.testing.assert_array_equal(t["p_reach"], (draws <= target).mean(axis=0))
    assert (t["distance"] == 0).all() and (0.2 < t["p_reach"]).all() and (t["p_reach"] < 0.9).all()


def test_p_reach_rises_with_the_target(grid_post, quiet):
    losses = np.linspace(1.5, 2.5, 40)
    p = grid_post.prob_reach(losses, N=7e10, D=1.4e12)["p_reach"].to_numpy()
    assert (np.diff(p) >= 0).all() and p[0] < 0.01 and p[-1] > 0.99


def test_p_reach_of_the_compute_optimal_run(grid_post, quiet):
    alloc = grid_post.allocate(5.76e23)
    median = alloc["loss_pred"].iloc[0]
    # allocate's predictive draws are those of seed = post.seed + 1: its median, exactly
    same = grid_post.prob_reach(median, C=5.76e23, seed=grid_post.seed + 1)
    assert same["p_reach"].iloc[0] == pytest.approx(0.5, abs=1 / 4000)
    # other draws: 0.5 within Monte Carlo error
    other = grid_post.prob_reach(median, C=5.76e23, seed=0)
    assert abs(other["p_reach"].iloc[0] - 0.5) < 4 * other["p_reach_se"].iloc[0]
    assert other["N_opt"].iloc[0] == pytest.approx(alloc["N_opt"].iloc[0], rel=1e-6)
    assert other.columns.tolist() == [
        "C", "N_opt", "D_opt", "loss", "p_reach", "p_reach_se", "distance"
    ]  # fmt: skip


def test_p_reach_of_a_point_fit_is_the_noise_cdf(quiet):
    data = isoflop_grid(np.random.default_rng(17))
    point = grid_posterior(data, sd=0.0, num_draws=2)
    point = dataclasses.replace(
        point,
        draws={k: v[:1, :1] for k, v in point.draws.items()},
        stats={k: v[:1, :1] for k, v in point.stats.items()},
        method="map",
    )
    N, D = 1e9, 1e10  # inside the data
    mu = math.log(law_loss(N, D))
    t = point.prob_reach([2.5, 2.52, 2.55], N=N, D=D)
    sigma = point.samples["sigma"][0]
    want = stats.norm.cdf((np.log([2.5, 2.52, 2.55]) - mu) / sigma)
    np.testing.assert_allclose(t["p_reach"], want, atol=4 * np.sqrt(0.25 / 20000))


def test_prob_reach_warns_of_scaled_inputs_at_the_callers_line(grid_post):
    with pytest.warns(bs.DataWarning, match="'N' looks scaled") as record:
        grid_post.prob_reach(2.0, N=70, D=1.4e12)
    assert record[0].filename == __file__
    with pytest.warns(bs.DataWarning, match="'C' looks scaled") as record:
        grid_post.prob_reach(2.0, C=5.76e6)
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": 2.0, "C": 1e23, "N": 1e9}, "not both"),
        ({"loss": -2.0, "N": 1e9, "D": 1e10}, "loss must be finite and positive"),
        ({"loss": [2.0, 2.1], "N": [1e9, 2e9, 3e9], "D": 1e10}, "2 target losses against 3"),
        ({"loss": 2.0, "N": 1e9}, r"missing input\(s\) \['D'\]"),
        ({"loss": 2.0, "C": 0.0}, "C must be finite and positive"),
    ],
)
def test_prob_reach_names_what_is_wrong(grid_post, kwargs, message):
    with pytest.raises(ValueError, match=message):
        grid_post.prob_reach(**kwargs)
