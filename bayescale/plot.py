"""Plots of posteriors (matplotlib, imported lazily). Each takes ``ax=`` and returns its Figure.

Every axis names its quantity and unit ("loss (nats/token)", "training compute C (FLOPs)"),
log axes carry plain tick labels (2, 3, 4 rather than 2x10^0), laws of an accuracy in [0, 1]
get a linear y axis (an accuracy of 0 has no place on a log axis) and titles show the law's
formula in mathtext.

Save a plot with :func:`savefig`: the file is written whole or not at all, so an interrupted
or failed save leaves the previous image as it was.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._data import DEFAULT_LEVEL
from ._errors import InvalidValueError, UnknownNameError
from ._posterior import Posterior

__all__ = [
    "axis_label",
    "extrapolation",
    "formula_mathtext",
    "frontier",
    "isoflop",
    "loo_pit",
    "pairs",
    "plain_log_ticks",
    "savefig",
]


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


# ----------------------------------------------------------------------------- axis labels
# What each catalog column measures, with its unit. A column missing here is labelled by its
# name alone: a law from outside the catalog may use any column name.
_INPUT_LABELS = {
    "N": "parameters N",
    "D": "tokens D",
    "U": "unique tokens U",
    "C": "training compute C (FLOPs)",
    "S": "optimisation steps S",
    "B": "batch size B",
    "loss": "loss (nats/token)",
    "temperature": "sampling temperature",
    "C_test": "test-time compute C_test",
    "C_train": "training compute C_train (FLOPs)",
}
_TARGET_LABELS = {
    "loss": "loss (nats/token)",
    "accuracy": "accuracy (fraction correct)",
    "B": "critical batch size B (tokens)",
    "latency": "latency (s/token)",
    "memory": "memory (bytes)",
    "throughput": "throughput (tokens/s)",
    "utilisation": "utilisation (fraction of peak FLOPs)",
    "quality": "quality",
    "C_test": "test-time compute C_test",
}
# Inputs whose values sit within a decade or so, where a log axis only distorts.
_LINEAR_INPUTS = frozenset({"temperature", "loss"})


def axis_label(column: str, *, target: bool = False) -> str:
    """The axis label of a data column: its quantity and unit, e.g. ``"tokens D"``.

    Args:
        column: A law's input or target column name.
        target: Label the column as a law's target (``"B"`` is then the critical batch size).

    Returns:
        The label; the column name itself for a column the catalog does not use.
    """
    labels = _TARGET_LABELS if target else _INPUT_LABELS
    return labels.get(column, _INPUT_LABELS.get(column, column))


def _linear_target(law) -> bool:
    """Whether the target belongs on a linear axis: a logit-link law predicts a fraction in
    [0, 1] whose zeros a log axis cannot show; an identity link may go negative."""
    return law.link != "log"


# ----------------------------------------------------------------------------- tick labels
def _plain_number(value: float, digits: int = 4, *, powers: bool = False) -> str:
    """A tick value as a reader writes it: ``2``, ``0.5``, ``300``; ``10^21`` in mathtext for
    values too large or small to write out, or for every value when ``powers`` (``digits``
    significant digits)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if not powers and 1e-3 <= abs(value) < 1e5:
        text = f"{value:.{digits}g}"
        return f"{value:.0f}" if "e" in text else text  # 10000, not 1e+04
    exponent = math.floor(math.log10(abs(value)) + 1e-9)
    mantissa = float(f"{value / 10.0**exponent:.{digits}g}")
    if mantissa == 10:  # 9.99e20 rounded up
        mantissa, exponent = 1.0, exponent + 1
    if mantissa == 1:
        return f"$10^{{{exponent}}}$"
    return f"${mantissa:g}\\times10^{{{exponent}}}$"


def _plain_formatter(*, major: bool) -> Any:
    """matplotlib's log formatter (which ticks get a label) with :func:`_plain_number`'s
    text: minor ticks are labelled only where an axis spans too few decades for its majors."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            # An axis over many decades reads best in powers of ten throughout (0.01, 10,
            # 10000, 10^7 mixes two notations); a short one in plain numbers.
            if vmax > 1e4 * vmin > 0:
                return _plain_number(x, powers=True)
            return _plain_number(x)

    return PlainLogFormatter(labelOnlyBase=major)


def plain_log_ticks(ax: Any) -> None:
    """Give every log-scaled axis of ``ax`` plain tick labels (``2``, ``3``, ``4`` instead of
    ``2x10^0``), labelling minor ticks where the axis spans less than about a decade.

    Args:
        ax: A matplotlib Axes (or a colorbar's Axes).
    """
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_major_formatter(_plain_formatter(major=True))
            axis.set_minor_formatter(_plain_formatter(major=False))


# ----------------------------------------------------------------------------- formulas
_GREEK = frozenset(
    "alpha beta gamma delta epsilon eta theta kappa lambda mu nu rho sigma tau phi chi psi "
    "omega".split()
)
_FUNCTIONS = frozenset({"exp", "log", "ln", "min", "max", "tanh"})
_TOKEN = re.compile(r"\s+|\d+(?:\.\d+)?(?:e[+-]?\d+)?|[A-Za-z]+\d*|.")


def _math_word(token: str) -> str:
    """One identifier or number of a plain-text formula in mathtext."""
    if token[0].isdigit():
        mantissa, _, exponent = token.partition("e")
        if not exponent:
            return token
        power = f"10^{{{int(exponent)}}}"
        return power if float(mantissa) == 1 else f"{mantissa}\\times{power}"
    letters = token.rstrip("0123456789")
    digits = token[len(letters) :]
    if letters in _GREEK or letters in _FUNCTIONS:
        out = f"\\{letters} "  # the space ends the command before a following letter
    elif len(letters) == 1:
        out = letters
    else:  # a word (acc, floor, ceil) is upright, not a product of italic letters
        out = f"\\mathrm{{{letters}}}"
    return out + (f"_{{{digits}}}" if digits else "")


def _to_mathtext(formula: str) -> str:
    tokens = _TOKEN.findall(formula)
    pos = 0

    def operand() -> tuple[str, bool]:
        """The operand of ``^`` or ``_``, and whether it came in parentheses."""
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "(":
            return "(" + sequence(")") + ")", True
        if token == "-":
            return "-" + operand()[0], False
        if token[0].isalnum():
            word = _math_word(token)
            if pos < len(tokens) and tokens[pos] == "_":  # alpha_N as one exponent
                pos += 1
                sub, paren = operand()
                word += "_{" + (sub[1:-1] if paren else sub) + "}"
            return word, False
        raise InvalidValueError(f"no operand at {token!r}")

    def sequence(stop: str | None = None) -> str:
        nonlocal pos
        out = []
        while pos < len(tokens):
            token = tokens[pos]
            pos += 1
            if token == stop:
                return "".join(out)
            if token.isspace():
                # mathtext drops spaces: keep a thin one where it separates two factors
                prev = tokens[pos - 2] if pos >= 2 else ""
                following = tokens[pos] if pos < len(tokens) else ""
                separates = (prev[-1:].isalnum() and prev not in _FUNCTIONS) or prev in ")'"
                if separates and prev and (following[:1].isalnum() or following == "("):
                    out.append("\\,")
            elif token in "^_":
                sub, paren = operand()
                out.append(f"{token}{{{sub[1:-1] if paren else sub}}}")
            elif token == "*":
                # "a * b" multiplies; "R_D*" is a name with a star
                out.append("\\cdot " if tokens[pos - 2].isspace() else "^{*}")
            elif token == "(":
                out.append("(" + sequence(")") + ")")
            elif token[0].isalnum():
                out.append(_math_word(token))
            else:
                out.append({"%": r"\%", "$": r"\$", "#": r"\#", "&": r"\&"}.get(token, token))
        if stop is not None:
            raise InvalidValueError("unbalanced parentheses")
        return "".join(out)

    return "$" + sequence() + "$"


def formula_mathtext(formula: str) -> str:
    """A law's plain-text formula as matplotlib mathtext, for titles.

    Greek names become letters, ``x^(...)`` a superscript, ``N_c`` a subscript, ``1e21``
    ``10^{21}`` and words (``acc``, ``floor``) upright text. A formula the conversion cannot
    render comes back as it was.

    Args:
        formula: e.g. ``"L = E + A/N^alpha + B/D^beta"``.

    Returns:
        e.g. ``"$L=E+A/N^{\\alpha }+B/D^{\\beta }$"``.
    """
    from matplotlib.mathtext import MathTextParser

    try:
        text = _to_mathtext(formula)
        MathTextParser("path").parse(text)
    except Exception:  # any formula still gets a title: the plain text
        return formula
    return text


def _title(law) -> str:
    return f"{law.name}: {formula_mathtext(law.formula)}" if law.formula else law.name


# ----------------------------------------------------------------------------- helpers
def _axes(ax: Any, figsize: tuple[float, float] = (7, 4.5)) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _run_compute(post: Posterior, k: float) -> np.ndarray:
    return k * post.data["N"].to_numpy() * post.data["D"].to_numpy()


def _needs_n_and_d(post: Posterior, what: str) -> None:
    if not {"N", "D"} <= set(post.law.inputs):
        raise InvalidValueError(
            f"{what} needs a law in parameters N and tokens D; {post.law.name!r} has inputs "
            f"{post.law.inputs} (use bayescale.plot.extrapolation)"
        )


def _flops(c: float) -> str:
    return f"C = {_plain_number(c, digits=2)} FLOPs"


# ----------------------------------------------------------------------------- plots
def extrapolation(
    post: Posterior,
    *,
    ax: Any = None,
    level: float = DEFAULT_LEVEL,
    x_max: float | None = None,
    points: Mapping[str, Mapping[str, float]] | None = None,
    num: int = 60,
    flops_per_param_token: float = 6.0,
) -> Any:
    """Fan chart: the data, the fitted law and its credible and predictive bands into the future.

    For a law in ``N`` and ``D`` the x-axis is training compute ``C = 6 N D`` and the curve is the
    compute-optimal loss ``L(N*(C), D*(C))``; for a one-input law the x-axis is that input. A
    dotted line marks the edge of the data. The y axis is logarithmic for a positive target
    (loss) and linear for an accuracy.

    Args:
        post: A fitted posterior.
        ax: Matplotlib Axes to draw on (a new figure when None).
        level: Probability of the bands.
        x_max: Right end of the extrapolation (default: 1000x the largest data value on a log
            axis; half the data's range past it on a linear one).
        points: Named input points to forecast and mark, e.g.
            ``{"Chinchilla": {"N": 70e9, "D": 1.4e12}}``.
        num: Grid size of the curve.
        flops_per_param_token: ``k`` in ``C = k N D``.

    Returns:
        The Figure.
    """
    from matplotlib.colors import LogNorm

    ax = _axes(ax)
    law, data = post.law, post.data
    y = data[law.target].to_numpy()
    log_x = True
    if set(law.inputs) == {"N", "D"}:
        x_data = _run_compute(post, flops_per_param_token)
        xlabel = f"training compute C = {flops_per_param_token:g}·N·D (FLOPs)"
        edge = "edge of the data (largest C)"
        sc = ax.scatter(
            x_data, y, c=data["N"], norm=LogNorm(), s=12, cmap="viridis", zorder=3, label="runs"
        )
        bar = ax.figure.colorbar(sc, ax=ax, label="parameters N")
        plain_log_ticks(bar.ax)
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
        xlabel = axis_label(name)
        edge = f"edge of the data (largest {name})"
        log_x = name not in _LINEAR_INPUTS and bool(np.all(x_data > 0))
        ax.scatter(x_data, y, s=12, color="k", zorder=3, label="runs")
        if log_x:
            grid = np.geomspace(x_data.min(), x_max or 1e3 * x_data.max(), num)
        else:
            span = np.ptp(x_data) or 1.0
            grid = np.linspace(x_data.min(), x_max or x_data.max() + 0.5 * span, num)
        fc = post.forecast(level=level, **{name: grid})
        mean_lo, mean_hi, median = fc["mean_lower"], fc["mean_upper"], fc["median"]
        curve_label = "law (median)"
    else:
        raise InvalidValueError(
            f"no default fan chart for law {law.name!r} with inputs {law.inputs}"
        )
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
    ax.axvline(x_data.max(), color="grey", ls=":", lw=1, label=edge)
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
    if log_x:
        ax.set_xscale("log")
    if not _linear_target(law):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(axis_label(law.target, target=True))
    ax.set_title(_title(law), fontsize=10)
    # A falling loss leaves the upper right empty; a rising accuracy, the lower right.
    ax.legend(fontsize=8, loc="lower right" if _linear_target(law) else "upper right")
    plain_log_ticks(ax)
    return ax.figure


def _default_budgets(c_runs: np.ndarray, count: int = 4) -> np.ndarray:
    """The FLOP budgets most runs were trained at: the fullest tenth-of-a-decade bins, half a
    decade apart at least, each as its runs' median compute (an isoFLOP design's budgets)."""
    bins = np.round(np.log10(c_runs), 1)
    values, counts = np.unique(bins, return_counts=True)
    chosen: list[float] = []
    for b in values[np.argsort(-counts, kind="stable")]:
        if all(abs(b - c) >= 0.5 - 1e-9 for c in chosen):
            chosen.append(b)
        if len(chosen) == count:
            break
    return np.array(sorted(float(np.median(c_runs[bins == b])) for b in chosen))


def isoflop(
    post: Posterior,
    C: Any = None,
    *,
    ax: Any = None,
    level: float = DEFAULT_LEVEL,
    num: int = 60,
    span: float = 30.0,
    runs: bool = True,
    tolerance: float = 1.25,
    flops_per_param_token: float = 6.0,
) -> Any:
    """IsoFLOP curves: loss against model size at fixed compute, with credible bands, the
    posterior of the optimum ``N*`` (median and interval) on each curve, and the runs trained
    at about that compute overlaid in the curve's colour.

    Args:
        post: A fitted posterior of a law in ``N`` and ``D``.
        C: FLOP budgets, one curve each (default: up to four budgets most runs were trained
            at).
        ax: Axes to draw on (new figure when None).
        level: Probability of the bands and of the interval of ``N*``.
        num: Points per curve.
        span: Each curve covers ``N*/span`` to ``N* span``.
        runs: Overlay the runs whose compute ``k N D`` is within ``tolerance`` of a budget.
        tolerance: Factor: a run belongs to budget ``C`` when its compute is in
            ``[C / tolerance, C * tolerance]``.
        flops_per_param_token: ``k`` in ``C = k N D``.

    Returns:
        The Figure.
    """
    _needs_n_and_d(post, "isoflop")
    ax = _axes(ax)
    c_runs = _run_compute(post, flops_per_param_token)
    budgets = _default_budgets(c_runs) if C is None else np.atleast_1d(np.asarray(C, np.float64))
    alloc = post.allocate(budgets, level=level, flops_per_param_token=flops_per_param_token)
    data = post.data
    overlaid = False
    for i, row in alloc.iterrows():
        n = np.geomspace(row["N_opt"] / span, row["N_opt"] * span, num)
        fc = post.forecast(N=n, D=row["C"] / (flops_per_param_token * n), level=level)
        color = f"C{i % 10}"
        ax.fill_between(n, fc["mean_lower"], fc["mean_upper"], color=color, alpha=0.3)
        ax.plot(n, fc["median"], color=color, label=_flops(row["C"]))
        ax.errorbar(
            [row["N_opt"]],
            [row["loss_opt"]],
            xerr=[[row["N_opt"] - row["N_opt_lower"]], [row["N_opt_upper"] - row["N_opt"]]],
            fmt="o",
            color=color,
            mec="k",
            capsize=3,
            zorder=4,
        )
        near = np.abs(np.log(c_runs / row["C"])) <= np.log(tolerance)
        if runs and near.any():
            ax.scatter(
                data["N"].to_numpy()[near],
                data[post.law.target].to_numpy()[near],
                s=18,
                marker="x",
                color=color,
                zorder=3,
            )
            overlaid = True
    if overlaid:  # one legend entry for the runs of every budget, after the budgets
        ax.scatter([], [], s=18, marker="x", color="0.3", label=f"runs within ×{tolerance:g} of C")
    ax.set_xscale("log")
    ax.set_xlabel(axis_label("N"))
    ax.set_ylabel(axis_label(post.law.target, target=True))
    ax.set_title(
        f"IsoFLOP curves, {level:.0%} credible bands; circles: N* and its {level:.0%} interval",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    plain_log_ticks(ax)
    return ax.figure


def frontier(
    post: Posterior,
    C_range: tuple[float, float] | None = None,
    *,
    ax: Any = None,
    level: float = DEFAULT_LEVEL,
    num: int = 40,
    flops_per_param_token: float = 6.0,
) -> Any:
    """The compute-optimal frontier ``N*(C)`` and ``D*(C)`` with credible bands, the runs'
    sizes and the edge of the data.

    Args:
        post: A fitted posterior of a law in ``N`` and ``D``.
        C_range: Smallest and largest FLOP budget (default: from the smallest run's compute to
            1000x the largest).
        ax: Axes to draw on (new figure when None).
        level: Probability of the bands.
        num: Budgets on the grid.
        flops_per_param_token: ``k`` in ``C = k N D``.

    Returns:
        The Figure.
    """
    _needs_n_and_d(post, "frontier")
    ax = _axes(ax)
    c_runs = _run_compute(post, flops_per_param_token)
    if C_range is None:
        C_range = (c_runs.min(), 1e3 * c_runs.max())
    grid = np.geomspace(*C_range, num)
    alloc = post.allocate(grid, level=level, flops_per_param_token=flops_per_param_token)
    for q, label, color in (("N_opt", "N* (parameters)", "C0"), ("D_opt", "D* (tokens)", "C1")):
        ax.fill_between(grid, alloc[f"{q}_lower"], alloc[f"{q}_upper"], color=color, alpha=0.3)
        ax.plot(grid, alloc[q], color=color, label=label)
    ax.scatter(c_runs, post.data["N"], s=6, color="C0", alpha=0.4, label="runs (N)")
    ax.axvline(c_runs.max(), color="grey", ls=":", lw=1, label="edge of the data (largest C)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axis_label("C"))
    ax.set_ylabel("compute-optimal N* (parameters), D* (tokens)")
    ax.set_title(f"Compute-optimal allocation, {level:.0%} credible bands", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    plain_log_ticks(ax)
    return ax.figure


def _param_label(name: str) -> str:
    """A parameter name in mathtext: ``alpha`` as the letter, ``N_c`` with its subscript."""
    return formula_mathtext(name)


def _log_param(values: np.ndarray) -> bool:
    """A scale parameter (positive, spread over more than a decade) belongs on a log axis."""
    return bool(np.all(values > 0) and np.quantile(values, 0.99) > 10 * np.quantile(values, 0.01))


def pairs(
    post: Posterior,
    var_names: Sequence[str] | None = None,
    *,
    ax: Any = None,
    fig: Any = None,
    max_draws: int = 1000,
    seed: int = 0,
) -> Any:
    """Corner plot of the posterior: marginal histograms and pairwise scatter. Scale
    parameters spread over more than a decade (``A``, ``B``) are shown on log axes.

    Args:
        post: A fitted posterior.
        var_names: Parameters to show (default: the law's published parameters).
        ax: A ``(k, k)`` array of Axes to draw on, ``k`` the number of parameters (as
            ``plt.subplots(k, k)`` returns).
        fig: A matplotlib Figure (or SubFigure) to fill with a new grid (when ``ax`` is None;
            a new figure when both are None).
        max_draws: Draws shown in the scatter panels (a random subset, chosen with ``seed``).
        seed: Seed of that subset.

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    names = list(var_names or post.law.published)
    samples = post.samples
    unknown = [n for n in names if n not in samples]
    if unknown:
        raise UnknownNameError(f"no parameter(s) {unknown}; the posterior has {sorted(samples)}")
    k = len(names)
    if ax is not None:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size != k * k:
            raise InvalidValueError(
                f"ax must hold {k} x {k} Axes for {k} parameters, got {axes.size}"
            )
        axes = axes.reshape(k, k)
        fig = axes[0, 0].figure
    else:
        fig = fig or plt.figure(figsize=(2.0 * k, 2.0 * k), layout="constrained")
        axes = fig.subplots(k, k, squeeze=False)
    rng = np.random.default_rng(seed)
    idx = rng.choice(post.num_draws, size=min(max_draws, post.num_draws), replace=False)
    log = {n: _log_param(samples[n]) for n in names}
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            a = axes[i, j]
            if j > i:
                a.set_axis_off()
                continue
            x = samples[xj]
            if i == j:
                edges = (
                    np.geomspace(x.min(), x.max(), 41)
                    if log[xj]
                    else np.linspace(x.min(), x.max(), 41)
                )
                a.hist(x, bins=edges, color="C0", alpha=0.7)
                a.set_yticks([])
            else:
                a.scatter(x[idx], samples[yi][idx], s=2, alpha=0.3)
                if log[yi]:
                    a.set_yscale("log")
            if log[xj]:
                a.set_xscale("log")
            if i == k - 1:
                a.set_xlabel(_param_label(xj))
            if j == 0 and i != j:
                a.set_ylabel(_param_label(yi))
            plain_log_ticks(a)
    return fig


def loo_pit(post: Posterior, *, ax: Any = None, seed: int = 0, prob: float = 0.95) -> Any:
    """Calibration: ECDF of the PSIS-LOO probability-integral-transform values against the
    uniform, with a ``prob`` Dvoretzky-Kiefer-Wolfowitz band. A calibrated model stays inside the
    band; an S shape means intervals too wide, a mirrored S too narrow.

    Args:
        post: A fitted posterior.
        ax: Axes to draw on (new figure when None).
        seed: Seed of the posterior predictive draws.
        prob: Probability of the band.

    Returns:
        The Figure.
    """
    import arviz_stats as azs

    ax = _axes(ax, figsize=(5, 4.5))
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
    ax.set_xlabel("LOO probability integral transform (PIT) of each run")
    ax.set_ylabel("ECDF (fraction of runs)")
    ax.set_title(f"LOO-PIT calibration ({n} runs)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return ax.figure
