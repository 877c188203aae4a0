"""Plots of posteriors (matplotlib, imported lazily). Each returns its Axes and takes ``ax=``.

Save a plot with :func:`savefig`: the file is written whole or not at all, so an interrupted
or failed save leaves the previous image as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._posterior import Posterior

__all__ = ["extrapolation", "isoflop", "frontier", "pairs", "loo_pit", "savefig"]


def savefig(figure: Any, path: Any, **kwargs: Any) -> None:
    """Save a figure (or the figure of an Axes) to ``path``, atomically.

    Like ``figure.savefig(path, **kwargs)``, but the image is rendered in memory, written to a
    temporary file in the same folder, flushed to disk and renamed over ``path``: a crash, a
    kill, a full disk or Ctrl-C leaves any previous file at ``path`` as it was.

    Args:
        figure: A matplotlib ``Figure``, or an ``Axes`` (its figure is saved).
        path: The image file; the format comes from its extension (``.png``, ``.svg``,
            ``.pdf``...) unless ``format=`` is given.
        **kwargs: Passed to ``Figure.savefig`` (``dpi=``, ``bbox_inches=``...).

    Example:
        >>> bs.plot.savefig(bs.plot.extrapolation(post), "fan.png", dpi=150)
    """
    from ._files import save_figure

    save_figure(getattr(figure, "figure", figure), path, **kwargs)


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    return ax


def extrapolation(
    post: Posterior,
    *,
    ax: Any = None,
    level: float = 0.9,
    x_max: float | None = None,
    points: Mapping[str, Mapping[str, float]] | None = None,
    num: int = 60,
    flops_per_param_token: float = 6.0,
) -> Any:
    """Fan chart: the data, the fitted law and its credible and predictive bands into the future.

    For a law in ``N`` and ``D`` the x-axis is training compute ``C = 6 N D`` and the curve is the
    compute-optimal loss ``L(N*(C), D*(C))``; for a one-input law the x-axis is that input.

    Args:
        post: A fitted posterior.
        ax: Matplotlib Axes to draw on (a new figure when None).
        level: Probability of the bands.
        x_max: Right end of the extrapolation (default: 1000x the largest data value).
        points: Named input points to forecast and mark, e.g.
            ``{"Chinchilla": {"N": 70e9, "D": 1.4e12}}``.
        num: Grid size of the curve.
        flops_per_param_token: ``k`` in ``C = k N D``.

    Returns:
        The Axes.
    """
    ax = _axes(ax)
    law, data = post.law, post.data
    y = data[law.target].to_numpy()
    if set(law.inputs) == {"N", "D"}:
        x_data = flops_per_param_token * data["N"].to_numpy() * data["D"].to_numpy()
        xlabel = f"training compute C = {flops_per_param_token:g}·N·D (FLOPs)"
        sc = ax.scatter(
            x_data, y, c=np.log10(data["N"]), s=12, cmap="viridis", zorder=3, label="data"
        )
        ax.figure.colorbar(sc, ax=ax, label="log10 N (parameters)")
        grid = np.geomspace(x_data.min(), x_max or 1e3 * x_data.max(), num)
        alloc = post.allocate(grid, level=level, flops_per_param_token=flops_per_param_token)
        fc = post.forecast(N=alloc["N_opt"].to_numpy(), D=alloc["D_opt"].to_numpy(), level=level)
        # The credible band of the optimum's loss comes straight from the allocation draws.
        mean_lo, mean_hi = alloc["loss_opt_lower"], alloc["loss_opt_upper"]
        median = alloc["loss_opt"]
        curve_label = "compute-optimal loss (median)"
    elif len(law.inputs) == 1:
        (name,) = law.inputs
        x_data = data[name].to_numpy()
        xlabel = name
        ax.scatter(x_data, y, s=12, color="k", zorder=3, label="data")
        grid = np.geomspace(x_data.min(), x_max or 1e3 * x_data.max(), num)
        fc = post.forecast(level=level, **{name: grid})
        mean_lo, mean_hi, median = fc["mean_lower"], fc["mean_upper"], fc["median"]
        curve_label = "law (median)"
    else:
        raise ValueError(f"no default fan chart for law {law.name!r} with inputs {law.inputs}")
    pct = f"{level:.0%}"
    ax.fill_between(
        grid,
        fc["pred_lower"],
        fc["pred_upper"],
        color="C1",
        alpha=0.2,
        label=f"{pct} predictive (new run)",
    )
    ax.fill_between(grid, mean_lo, mean_hi, color="C1", alpha=0.5, label=f"{pct} credible (law)")
    ax.plot(grid, median, color="C1", lw=1.5, label=curve_label)
    ax.axvline(x_data.max(), color="grey", ls=":", lw=1)
    for i, (label, inputs) in enumerate((points or {}).items()):
        f = post.forecast(level=level, **inputs).iloc[0]
        xp = (
            flops_per_param_token * inputs["N"] * inputs["D"]
            if set(law.inputs) == {"N", "D"}
            else inputs[law.inputs[0]]
        )
        ax.errorbar(
            [xp],
            [f["median"]],
            yerr=[[f["median"] - f["pred_lower"]], [f["pred_upper"] - f["median"]]],
            fmt="D",
            color=f"C{i + 2}",
            capsize=3,
            zorder=4,
            label=f"{label} forecast",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(law.target)
    ax.set_title(f"{law.name}: {law.formula}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return ax


def isoflop(
    post: Posterior,
    C: Any,
    *,
    ax: Any = None,
    level: float = 0.9,
    num: int = 60,
    span: float = 30.0,
    flops_per_param_token: float = 6.0,
) -> Any:
    """IsoFLOP curves: loss against model size at fixed compute, with credible bands, and the
    posterior of the optimum ``N*`` (median and interval) on each curve.

    Args:
        post: A fitted posterior of a law in ``N`` and ``D``.
        C: FLOP budgets, one curve each.
        ax: Axes to draw on (new figure when None).
        level: Probability of the bands and of the interval of ``N*``.
        num: Points per curve.
        span: Each curve covers ``N*/span`` to ``N* span``.
        flops_per_param_token: ``k`` in ``C = k N D``.

    Returns:
        The Axes.
    """
    ax = _axes(ax)
    budgets = np.atleast_1d(np.asarray(C, np.float64))
    alloc = post.allocate(budgets, level=level, flops_per_param_token=flops_per_param_token)
    for i, row in alloc.iterrows():
        n = np.geomspace(row["N_opt"] / span, row["N_opt"] * span, num)
        fc = post.forecast(N=n, D=row["C"] / (flops_per_param_token * n), level=level)
        color = f"C{i % 10}"
        ax.fill_between(n, fc["mean_lower"], fc["mean_upper"], color=color, alpha=0.3)
        ax.plot(n, fc["median"], color=color, label=f"C = {row['C']:.2g}")
        ax.errorbar(
            [row["N_opt"]],
            [row["loss_opt"]],
            xerr=[[row["N_opt"] - row["N_opt_lower"]], [row["N_opt_upper"] - row["N_opt"]]],
            fmt="o",
            color=color,
            capsize=3,
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel(post.law.target)
    ax.set_title(f"IsoFLOP curves with {level:.0%} bands; dots: N* and its interval", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def frontier(
    post: Posterior,
    C_range: tuple[float, float] = (1e18, 1e25),
    *,
    ax: Any = None,
    level: float = 0.9,
    num: int = 40,
    flops_per_param_token: float = 6.0,
) -> Any:
    """The compute-optimal frontier ``N*(C)`` and ``D*(C)`` with credible bands.

    Returns:
        The Axes.
    """
    ax = _axes(ax)
    grid = np.geomspace(*C_range, num)
    alloc = post.allocate(grid, level=level, flops_per_param_token=flops_per_param_token)
    for q, label, color in (("N_opt", "N* (parameters)", "C0"), ("D_opt", "D* (tokens)", "C1")):
        ax.fill_between(grid, alloc[f"{q}_lower"], alloc[f"{q}_upper"], color=color, alpha=0.3)
        ax.plot(grid, alloc[q], color=color, label=label)
    data = post.data
    ax.scatter(
        flops_per_param_token * data["N"] * data["D"],
        data["N"],
        s=6,
        color="C0",
        alpha=0.4,
        label="runs (N)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_title(f"Compute-optimal allocation, {level:.0%} credible bands", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def pairs(
    post: Posterior,
    var_names: Any = None,
    *,
    fig: Any = None,
    max_draws: int = 1000,
    seed: int = 0,
) -> Any:
    """Corner plot of the posterior: marginal histograms and pairwise scatter.

    Args:
        post: A fitted posterior.
        var_names: Parameters to show (default: the law's published parameters).
        fig: A matplotlib Figure to draw on (new when None).
        max_draws: Draws shown in the scatter panels (a random subset, chosen with ``seed``).

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    names = list(var_names or post.law.published)
    samples = post.samples
    k = len(names)
    fig = fig or plt.figure(figsize=(2.0 * k, 2.0 * k), layout="constrained")
    axes = fig.subplots(k, k, squeeze=False)
    rng = np.random.default_rng(seed)
    idx = rng.choice(post.num_draws, size=min(max_draws, post.num_draws), replace=False)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            a = axes[i, j]
            if j > i:
                a.set_axis_off()
                continue
            if i == j:
                a.hist(samples[xj], bins=40, color="C0", alpha=0.7)
                a.set_yticks([])
            else:
                a.scatter(samples[xj][idx], samples[yi][idx], s=2, alpha=0.3)
            if i == k - 1:
                a.set_xlabel(xj)
            if j == 0 and i != j:
                a.set_ylabel(yi)
    return fig


def loo_pit(post: Posterior, *, ax: Any = None, seed: int = 0, prob: float = 0.95) -> Any:
    """Calibration: ECDF of the PSIS-LOO probability-integral-transform values against the
    uniform, with a ``prob`` Dvoretzky-Kiefer-Wolfowitz band. A calibrated model stays inside the
    band; an S shape means intervals too wide, a mirrored S too narrow.

    Returns:
        The Axes.
    """
    import arviz_stats as azs

    ax = _axes(ax)
    pit = np.sort(np.asarray(azs.loo_pit(post.to_arviz(predictive_seed=seed))["obs"]).ravel())
    n = pit.size
    ecdf = np.arange(1, n + 1) / n
    eps = np.sqrt(np.log(2.0 / (1.0 - prob)) / (2.0 * n))
    u = np.linspace(0, 1, 101)
    ax.fill_between(
        u,
        np.clip(u - eps, 0, 1),
        np.clip(u + eps, 0, 1),
        color="grey",
        alpha=0.3,
        label=f"{prob:.0%} band (uniform)",
    )
    ax.step(pit, ecdf, where="post", color="C0", label="LOO-PIT ECDF")
    ax.plot([0, 1], [0, 1], color="k", lw=0.8)
    ax.set_xlabel("PIT value")
    ax.set_ylabel("ECDF")
    ax.set_title(f"LOO-PIT calibration ({n} rows)", fontsize=10)
    ax.legend(fontsize=8)
    return ax
