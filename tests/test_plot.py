"""Every plot renders on the shared Chinchilla fit, returns its Axes/Figure and honours ax=."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import bayescale as bs  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_extrapolation_draws_bands_that_contain_the_median(chinchilla_post, ax):
    out = bs.plot.extrapolation(chinchilla_post, ax=ax, points={"C": {"N": 70e9, "D": 1.4e12}})
    assert out is ax
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


def test_isoflop_marks_each_optimum(chinchilla_post, ax):
    out = bs.plot.isoflop(chinchilla_post, [1e20, 1e21], ax=ax)
    assert out is ax
    assert len(ax.get_lines()) >= 2
    # The median curve's minimum sits at the plotted N* (within the grid's spacing).
    line = ax.get_lines()[0]
    n, loss = line.get_data()
    alloc = chinchilla_post.allocate(1e20)
    assert abs(np.log(n[np.argmin(loss)] / alloc["N_opt"].iloc[0])) < np.log(30) * 2 / 59 + 0.1


def test_frontier_and_pairs_render(chinchilla_post, ax):
    assert bs.plot.frontier(chinchilla_post, ax=ax) is ax
    fig = bs.plot.pairs(chinchilla_post, ["alpha", "beta", "E"])
    assert len(fig.axes) == 9
    plt.close(fig)


def test_loo_pit_of_a_calibrated_fit_stays_near_uniform(chinchilla_post, ax):
    out = bs.plot.loo_pit(chinchilla_post, ax=ax)
    assert out is ax
    x, y = ax.get_lines()[0].get_data()
    # Kolmogorov distance to the uniform below the 99.9% DKW bound for 240 rows (0.126).
    assert np.max(np.abs(y - x)) < 0.126
