"""Plots of posteriors (matplotlib, imported lazily). Each returns its Axes and takes ``ax=``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._posterior import Posterior

__all__ = ["extrapolation"]


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
