"""Every plot renders, returns its Figure, honours ax= and labels its axes with units."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bayescale.models import exact_match  # noqa: E402
from matplotlib.mathtext import MathTextParser  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale._plot_prior import prior_draws  # noqa: E402
from bayescale.plot import _plain_number, formula_mathtext  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def accuracy_posterior(seed: int = 0) -> bs.Posterior:
    """An exact-match accuracy posterior made without sampling: draws around known values, on
    100-question accuracies of which the smallest runs score 0 (what a log axis hides)."""
    rng = np.random.default_rng(seed)
    C = np.geomspace(1e18, 1e23, 30)
    truth = {"log_E": np.log(0.05), "log_A": 0.0, "alpha": 0.4}
    acc = np.exp(-(np.exp(truth["log_E"]) + np.exp(truth["log_A"]) * (C / 1e21) ** -0.4))
    data = pd.DataFrame({"C": C, "accuracy": rng.binomial(100, acc) / 100})
    shape = (4, 250)
    draws = {k: v + rng.normal(0, 0.02, shape) for k, v in truth.items()}
    stats = {
        "diverging": np.zeros(shape, bool),
        "n_steps": np.full(shape, 7, np.int64),
        "energy": rng.normal(0.0, 1.0, shape),
        "acceptance_rate": np.full(shape, 0.9),
    }
    return bs.Posterior(
        law=exact_match,
        noise="binomial_100",
        data=data,
        draws=draws,
        stats=stats,
        settings={"num_chains": 4, "num_samples": 250, "max_tree_depth": 10},
        discrepancy=None,
    )


def tick_texts(axis, *, minor=False):
    """The tick labels matplotlib draws on ``axis`` (the canvas must have been drawn)."""
    ticks = axis.get_minor_ticks() if minor else axis.get_major_ticks()
    lo, hi = sorted(axis.get_view_interval())
    return [
        label.get_text()
        for t in ticks
        for label in (t.label1, t.label2)  # label2: a colour bar's, on the right
        if label.get_visible() and label.get_text() and lo <= t.get_loc() <= hi
    ]


def no_sci_notation(texts):
    """Plain labels: no ``2x10^0``-style label for a value a reader writes as ``2``."""
    return not any("times10^{0}" in t or "10^{-1}" in t or "e+" in t for t in texts)


def test_extrapolation_draws_bands_that_contain_the_median(chinchilla_post, ax):
    out = bs.plot.extrapolation(chinchilla_post, ax=ax, points={"C": {"N": 70e9, "D": 1.4e12}})
    assert out is ax.figure
    assert len(ax.collections) >= 3  # data, predictive band, credible band
    assert ax.get_xscale() == "log"
    # The curve is the compute-optimal loss's median along C; the credible band contains it and
    # the predictive band contains the credible band, at every grid point.
    grid, median = (np.asarray(a) for a in ax.get_lines()[0].get_data())
    alloc = chinchilla_post.allocate(grid, level=0.9)
    np.testing.assert_allclose(median, alloc["loss_opt"], rtol=1e-12)

    def band(collection):
        v = collection.get_paths()[0].vertices
        lo = np.array([v[np.isclose(v[:, 0], g, rtol=1e-12), 1].min() for g in grid])
        hi = np.array([v[np.isclose(v[:, 0], g, rtol=1e-12), 1].max() for g in grid])
        return lo, hi

    (p_lo, p_hi), (m_lo, m_hi) = band(ax.collections[1]), band(ax.collections[2])
    np.testing.assert_allclose(m_lo, alloc["loss_opt_lower"], rtol=1e-12)
    assert np.all(m_lo < median) and np.all(median < m_hi)
    assert np.all(p_lo < m_lo) and np.all(m_hi < p_hi)


def test_fan_chart_names_its_units_and_labels_ticks_plainly(chinchilla_post, ax):
    fig = bs.plot.extrapolation(chinchilla_post, ax=ax)
    fig.canvas.draw()
    assert ax.get_xlabel() == "training compute C = 6·N·D (FLOPs)"
    assert ax.get_ylabel() == "loss (nats/token)"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    # the loss axis spans less than a decade: its labelled ticks are plain numbers (2, 3...)
    y_labels = tick_texts(ax.yaxis) + tick_texts(ax.yaxis, minor=True)
    assert y_labels and no_sci_notation(y_labels), y_labels
    assert {"2", "3"} <= set(y_labels), y_labels
    # compute spans many decades: powers of ten in mathtext
    assert "$10^{21}$" in tick_texts(ax.xaxis)
    # the colour bar says what the colour is, with plain powers of ten too
    bar = fig.axes[-1]
    assert bar.get_ylabel() == "parameters N"
    assert any(t.startswith("$10^{") for t in tick_texts(bar.yaxis))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "edge of the data (largest C)" in legend and "runs" in legend
    # the title is the formula in mathtext, and it renders
    assert ax.get_title() == r"chinchilla: $L=E+A/N^{\alpha }+B/D^{\beta }$"
    edge = [ln for ln in ax.get_lines() if ln.get_label().startswith("edge")][0]
    assert edge.get_xdata()[0] == pytest.approx(
        (6 * chinchilla_post.data["N"] * chinchilla_post.data["D"]).max()
    )


def test_accuracy_laws_get_a_linear_y_axis_that_shows_zero_accuracy(ax):
    post = accuracy_posterior()
    assert (post.data["accuracy"] == 0).any()
    fig = bs.plot.extrapolation(post, ax=ax)
    fig.canvas.draw()
    assert ax.get_yscale() == "linear" and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "accuracy (fraction correct)"
    assert ax.get_xlabel() == "training compute C (FLOPs)"
    assert "$10^{20}$" in tick_texts(ax.xaxis)
    assert {"0.0", "0.2", "0.8"} <= set(tick_texts(ax.yaxis)), tick_texts(ax.yaxis)
    # every run is drawn, the zeros included, inside the visible y range
    runs = ax.collections[0].get_offsets()
    assert len(runs) == len(post.data)
    lo, hi = ax.get_ylim()
    assert lo <= 0 <= hi and np.all(np.asarray(runs)[:, 1] >= lo)
    assert ax.get_title().startswith(r"exact_match: $\mathrm{acc}=\exp")


def test_isoflop_marks_each_optimum(chinchilla_post, ax):
    out = bs.plot.isoflop(chinchilla_post, [1e20, 1e21], ax=ax)
    assert out is ax.figure
    assert len(ax.get_lines()) >= 2
    # The median curve's minimum sits at the plotted N* (within the grid's spacing).
    line = ax.get_lines()[0]
    n, loss = line.get_data()
    alloc = chinchilla_post.allocate(1e20)
    assert abs(np.log(n[np.argmin(loss)] / alloc["N_opt"].iloc[0])) < np.log(30) * 2 / 59 + 0.1


def test_isoflop_overlays_the_runs_of_each_budget(chinchilla_post, ax):
    data = chinchilla_post.data
    compute = 6 * data["N"] * data["D"]
    fig = bs.plot.isoflop(chinchilla_post, ax=ax)  # budgets chosen from the runs
    fig.canvas.draw()
    assert ax.get_xlabel() == "parameters N" and ax.get_ylabel() == "loss (nats/token)"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert "$10^{9}$" in tick_texts(ax.xaxis) and no_sci_notation(tick_texts(ax.yaxis))
    curves = [ln for ln in ax.get_lines() if ln.get_label().startswith("C = ")]
    assert 2 <= len(curves) <= 4
    from matplotlib.collections import PathCollection

    from bayescale.plot import _default_budgets

    budgets = _default_budgets(compute.to_numpy())
    runs = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert len(runs) >= 2
    # each overlay is exactly the runs within x1.25 of one budget, at their N and loss
    for points in runs:
        xy = np.asarray(points.get_offsets())
        near = [np.abs(np.log(compute / b)) <= np.log(1.25) for b in budgets]
        match = [m for m in near if m.sum() == len(xy)]
        assert match, len(xy)
        rows = data[match[0]]
        np.testing.assert_array_equal(np.sort(xy[:, 0]), np.sort(rows["N"]))
        np.testing.assert_array_equal(np.sort(xy[:, 1]), np.sort(rows["loss"]))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "runs within ×1.25 of C" in legend
    assert all(t.endswith("FLOPs") for t in legend if t.startswith("C = "))


def test_default_budgets_are_where_the_runs_are():
    from bayescale.plot import _default_budgets

    runs = np.concatenate([np.full(10, 1e19), np.full(8, 1e20), np.full(3, 2e20), [1e21]])
    np.testing.assert_allclose(_default_budgets(runs, count=3), [1e19, 1e20, 1e21])


def test_frontier_labels_both_axes_and_the_data_edge(chinchilla_post, ax):
    fig = bs.plot.frontier(chinchilla_post, ax=ax)
    assert fig is ax.figure
    fig.canvas.draw()
    assert ax.get_xlabel() == "training compute C (FLOPs)"
    assert ax.get_ylabel() == "compute-optimal N* (parameters), D* (tokens)"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "$10^{20}$" in tick_texts(ax.xaxis) and no_sci_notation(tick_texts(ax.yaxis))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"N* (parameters)", "D* (tokens)", "edge of the data (largest C)"} <= set(legend)


def test_isoflop_and_frontier_need_a_law_in_n_and_d(ax):
    post = accuracy_posterior()
    with pytest.raises(ValueError, match="needs a law in parameters N and tokens D"):
        bs.plot.isoflop(post, ax=ax)
    with pytest.raises(ValueError, match="frontier needs a law"):
        bs.plot.frontier(post, ax=ax)


def test_pairs_renders_scale_parameters_on_log_axes(chinchilla_epoch, chinchilla_post):
    from synthetic import synthetic_posterior

    # prior draws: A and E spread over decades, the noise scale sigma does not
    post = synthetic_posterior(chinchilla_epoch[["N", "D", "loss"]])
    names = ["A", "E", "sigma"]
    fig = bs.plot.pairs(post, names)
    assert len(fig.axes) == 9
    axes = np.array(fig.axes).reshape(3, 3)
    spread = {n: np.quantile(post.samples[n], [0.01, 0.99]) for n in names}
    scale = {n: "log" if hi > 10 * lo > 0 else "linear" for n, (lo, hi) in spread.items()}
    assert scale["A"] == scale["E"] == "log" and scale["sigma"] == "linear"
    for i, yi in enumerate(names):
        for j, xj in enumerate(names[: i + 1]):
            assert axes[i, j].get_xscale() == scale[xj]
            if j < i:
                assert axes[i, j].get_yscale() == scale[yi]
    assert axes[2, 0].get_xlabel() == "$A$" and axes[2, 1].get_xlabel() == "$E$"
    assert axes[2, 0].get_ylabel() == r"$\sigma $"
    # drawn onto Axes given by the caller, it returns their Figure
    given, grid = plt.subplots(3, 3)
    assert bs.plot.pairs(post, names, ax=grid) is given
    with pytest.raises(ValueError, match="3 x 3 Axes"):
        bs.plot.pairs(post, names, ax=grid[:2])
    with pytest.raises(KeyError, match="no parameter"):
        bs.plot.pairs(post, ["gamma"])
    # a posterior whose A sits within a decade keeps a linear axis
    narrow = np.array(bs.plot.pairs(chinchilla_post, ["A", "E"]).axes).reshape(2, 2)
    assert np.quantile(chinchilla_post.samples["A"], 0.99) < 10 * np.quantile(
        chinchilla_post.samples["A"], 0.01
    )
    assert narrow[0, 0].get_xscale() == "linear"


def test_loo_pit_of_a_calibrated_fit_stays_near_uniform(chinchilla_post, ax):
    out = bs.plot.loo_pit(chinchilla_post, ax=ax)
    assert out is ax.figure
    assert ax.get_ylabel() == "ECDF (fraction of runs)"
    x, y = ax.get_lines()[0].get_data()
    # Kolmogorov distance to the uniform below the 99.9% DKW bound for 240 rows (0.126).
    assert np.max(np.abs(y - x)) < 0.126


def test_prior_posterior_of_a_scale_parameter_is_readable(chinchilla_post, ax):
    fig = bs.plot_prior_posterior(chinchilla_post, "A", ax=ax)
    assert fig is ax.figure
    fig.canvas.draw()
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "density per decade"
    title = ax.get_title()
    # the ratio is that of log10 A's sds: a readable percentage and factor, not 3.1e-14
    assert title.startswith("log10 A: posterior sd / prior sd = ") and "x narrower" in title
    assert "e-" not in title and "e+" not in title, title
    po, pr = np.log10(chinchilla_post.samples["A"]), np.log10(prior_draws(chinchilla_post)["A"])
    pct = float(title.split("= ")[1].split("%")[0].lstrip("<"))
    assert pct == pytest.approx(100 * np.std(po) / np.std(pr), abs=0.51)
    # the prior spans many decades: powers of ten throughout, not "10, 1e+04"
    x_labels = tick_texts(ax.xaxis)
    assert len(x_labels) >= 4 and all(t.startswith("$10^{") for t in x_labels), x_labels
    # the densities are per decade: each histogram integrates to 1 over log10 x
    for patch in ax.patches[:2]:
        v = patch.get_path().vertices
        x, y = np.log10(np.clip(v[:, 0], 1e-300, None)), v[:, 1]
        assert abs(np.sum(np.diff(x) * y[:-1])) == pytest.approx(1.0, rel=0.05)


def test_prior_posterior_of_a_linear_parameter(chinchilla_post, ax):
    bs.plot_prior_posterior(chinchilla_post, "alpha", ax=ax, reference=0.34)
    assert ax.get_xscale() == "linear" and ax.get_xlabel() == r"$\alpha $"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "prior",
        "posterior",
        "reference",
    ]
    assert "posterior sd / prior sd = " in ax.get_title()


@pytest.mark.parametrize(
    "ratio, text",
    [
        (0.04, "posterior sd / prior sd = 4% (25x narrower)"),
        (0.5, "posterior sd / prior sd = 50% (2x narrower)"),
        (3.1e-14, r"posterior sd / prior sd = <0.1% ($3.2\times10^{13}$x narrower)"),
        (0.0021, "posterior sd / prior sd = 0.2% (480x narrower)"),
        (0.00021, "posterior sd / prior sd = <0.1% (4,760x narrower)"),
        (1.0, "posterior sd / prior sd = 100%: the data added little"),
        (float("nan"), "prior sd is 0: no ratio"),
    ],
)
def test_narrowing_reads_as_a_percentage_and_a_factor(ratio, text):
    from bayescale._plot_prior import narrowing

    assert narrowing(ratio) == text


@pytest.mark.parametrize(
    "value, text",
    [
        (2.0, "2"),
        (0.5, "0.5"),
        (300.0, "300"),
        (1e4, "10000"),
        (0.01, "0.01"),
        (1e21, "$10^{21}$"),
        (3e9, r"$3\times10^{9}$"),
    ]
    + [(9.387e18, r"$9.387\times10^{18}$"), (9.99996e20, "$10^{21}$")],
)
def test_plain_tick_numbers(value, text):
    assert _plain_number(value) == text


def test_every_catalog_formula_renders_as_mathtext():
    parser = MathTextParser("path")
    for name in bs.laws().index:
        formula = getattr(bs.models, name).formula
        text = formula_mathtext(formula)
        assert text.startswith("$") and text.endswith("$"), (name, text)
        parser.parse(text)  # raises when mathtext cannot render it
    assert formula_mathtext("L = (N_c/N)^alpha_N") == r"$L=(N_{c}/N)^{\alpha _{N}}$"
    assert formula_mathtext("y = a^(b") == "y = a^(b"  # unbalanced: the plain text comes back
