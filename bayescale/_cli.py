"""Command line: ``bayescale demo | laws | fit | forecast | allocate | prob-reach | cost |
compare | plot``.

Exit codes: 0 success; 1 the fit finished but failed its convergence diagnostics (``fit``), or
the saved fit did (``forecast``, ``allocate``, ``plot``: no numbers or image unless
``--force``), or a computation on a fit ran and did not succeed (a
:class:`~bayescale.ComputationError`); 2 a user error (any other
:class:`~bayescale.BayescaleError`: bad arguments or data; or a file that cannot be read or
written), reported in one line without a traceback; 3 an internal error (anything else: a bug;
the traceback is printed, please report it); 130 interrupted (Ctrl-C): one line, and no file
written or replaced after the interrupt. Arguments and the output path are checked before any
sampling. When the reader of stdout goes away (``bayescale laws | head -1``), the command stops
quietly with 141 (128 + SIGPIPE, as a shell reports for tools killed by a broken pipe).

Files are written whole or not at all (:mod:`bayescale._files`): an interrupted, killed or
failed write leaves the previous file as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import TYPE_CHECKING

from ._errors import BayescaleError, ComputationError, DataError, InvalidValueError
from ._methods import DEFAULT_METHOD, method_of
from ._methods import METHODS as _METHODS

if TYPE_CHECKING:
    import pandas as pd

EXIT_OK, EXIT_NOT_CONVERGED, EXIT_USER_ERROR, EXIT_INTERNAL_ERROR = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C

DEMO_POINTS = {"Chinchilla": {"N": 70e9, "D": 1.4e12}, "Gopher": {"N": 280e9, "D": 300e9}}
DEMO_BUDGET = 5.76e23

#: bayescale._data.DEFAULT_LEVEL, repeated: parsing the arguments loads no pandas (a test
#: checks they agree).
DEFAULT_LEVEL = 0.9


# Inference methods of `fit --method`: the aliases of bayescale's method values (the module
# imports no JAX, so building the parser stays light).
METHODS = tuple(_METHODS)
# The sampler options of the command line, by the name of the method setting each sets.
SAMPLER_OPTIONS = {
    "num_chains": "--num-chains",
    "num_warmup": "--num-warmup",
    "num_samples": "--num-samples",
}
# Kinds of `bayescale plot` and the image types it writes (by the output file's suffix).
PLOT_KINDS = ("fan", "isoflop", "frontier", "pairs")
PLOT_SUFFIXES = (".png", ".svg", ".pdf")

# Significant digits kept in --json output: a posterior summary has no more.
_JSON_DIGITS = 6
# Width the default tables fit (`bayescale laws --wide` prints every column whole).
_WIDTH = 100


def _json_value(v):
    """A table cell as JSON: floats to ``_JSON_DIGITS`` significant digits, NaN as null."""
    import numpy as np

    if isinstance(v, float | np.floating):
        return float(f"{v:.{_JSON_DIGITS}g}") if math.isfinite(v) else None
    if isinstance(v, np.integer | np.bool_):
        return v.item()
    return v


def _print_table(
    df: pd.DataFrame, args, title: str | None = None, *, by: str | None = None
) -> None:
    """``df`` on stdout: JSON records (``--json``; floats to 6 significant digits) or text.
    ``by`` names a column whose values become the text table's columns (the table is printed
    transposed: one line per quantity, one column per budget), as the demo does."""
    import pandas as pd  # not at the top: `bayescale --help` imports no pandas, JAX or numpyro

    if getattr(args, "json", False):
        if not isinstance(df.index, pd.RangeIndex):  # records drop the index: keep its labels
            df = df.reset_index(names=df.index.name or "name")
        print(
            json.dumps([{k: _json_value(v) for k, v in r.items()} for r in df.to_dict("records")])
        )
        return
    if title:
        print(f"\n{title}")
    if by is not None:
        df = df.set_index(by)
        df.index = [f"{by}={v:.4g}" for v in df.index]
        df = df.T
    with pd.option_context("display.width", 160, "display.max_columns", 40):
        print(df.to_string(float_format=lambda v: f"{v:.4g}"))


def _law(name: str):
    import bayescale as bs

    law = getattr(bs.models, name, None)
    if not isinstance(law, bs.Law):
        raise InvalidValueError(f"unknown law {name!r}; run `bayescale laws` for the catalog")
    return law


def _status(post) -> int:
    if post.ok:
        return EXIT_OK
    print("\nWARNING: the fit FAILED its diagnostics; do not trust it:", file=sys.stderr)
    for p in post.problems:
        print(f"  - {p}", file=sys.stderr)
    return EXIT_NOT_CONVERGED


def _load(path: str):
    """The saved fit at ``path``; a missing file is named as such, not as unreadable netCDF."""
    import bayescale as bs

    if not os.path.exists(path):
        raise InvalidValueError(f"{path}: no such file (a netCDF fit written by `bayescale fit`)")
    return bs.load(path)


# A saved-fit query (forecast, allocate, prob-reach) runs JAX operations one by one, each
# compiling a small program of its own (20-50 ms, dozens per query) that the compilation
# cache's threshold for samplers (1 s of compile time) never stores. While a query runs every
# program is stored, so the next query in a new process loads them instead of compiling.
_QUERY_MIN_COMPILE_S = 0.0


@contextlib.contextmanager
def _query_programs_cached():
    """While a saved-fit query runs: keep all its compiled programs in the persistent
    compilation cache (when it is on), then restore the threshold for the rest of the
    process."""
    import jax

    import bayescale as bs

    bs.load  # noqa: B018  starts the engine, which turns the default cache on
    option = "jax_persistent_cache_min_compile_time_secs"
    if not jax.config.jax_compilation_cache_dir:
        yield
        return
    before = getattr(jax.config, option)
    jax.config.update(option, _QUERY_MIN_COMPILE_S)
    try:
        yield
    finally:
        jax.config.update(option, before)


def _stop_if_interrupted() -> None:
    """Ctrl-C that something swallowed (a callback that ignores exceptions): stop here."""
    from ._files import INTERRUPTED

    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


def _trusted(post, args) -> bool:
    """Whether ``forecast``/``allocate`` may print numbers from the saved fit ``post``: it
    passed its diagnostics, or ``--force`` is given. Says why on stderr when it failed."""
    if post.ok:
        return True
    head = f"bayescale {args.command}: {args.fit}: the fit FAILED its diagnostics"
    if not args.force:
        print(f"{head}; no numbers without --force:", file=sys.stderr)
    else:
        print(f"{head}; numbers follow (--force), do not trust them:", file=sys.stderr)
    for p in post.problems:
        print(f"  - {p}", file=sys.stderr)
    return args.force


def cmd_demo(args) -> int:
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import bayescale as bs
    from bayescale.models import chinchilla

    from ._files import check_target, save_figure

    os.makedirs(args.out, exist_ok=True)  # before sampling: a bad folder fails fast
    png = os.path.join(args.out, "chinchilla_fanchart.png")
    nc = os.path.join(args.out, "chinchilla_fit.nc")
    for path in (png, nc) if args.save else (png,):
        check_target(path, what="--out")
    data = bs.datasets.load("chinchilla", variant="epoch")
    print(f"Chinchilla law {chinchilla.formula} on {len(data)} points of {data.attrs['citation']}")
    print(f"Dropped {data.attrs['dropped']}.")
    print(
        f"NUTS, {args.num_chains} chains x ({args.num_warmup} warmup + {args.num_samples} draws),"
        " float64, Normal noise on log-loss"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # reported below, with remedies
        post = bs.fit(
            chinchilla,
            data,
            seed=args.seed,
            num_chains=args.num_chains,
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            progress=True,
        )
    _stop_if_interrupted()
    summary = post.summary(level=0.95)
    ref = data.attrs["reference"]
    summary["epoch_refit"] = [ref[k][0] if k in ref else float("nan") for k in summary.index]
    _print_table(
        summary[["median", "lower", "upper", "r_hat", "ess_bulk", "ess_tail", "epoch_refit"]],
        args,
        "Posterior (median, 95% interval; Epoch's refit for reference):",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # reported below, with remedies
        fc = pd.concat(
            [
                post.forecast(level=DEFAULT_LEVEL, **pt).assign(model=name)
                for name, pt in DEMO_POINTS.items()
            ]
        ).set_index("model")
        alloc = post.allocate(DEMO_BUDGET, level=DEFAULT_LEVEL)
    _print_table(
        fc,
        args,
        "Forecast loss, 90% credible (mean_*) and predictive (pred_*) "
        "intervals; extrapolation = decades outside the data:",
    )
    rows = {
        "N* (parameters)": "N_opt",
        "D* (tokens)": "D_opt",
        "D*/N*": "tokens_per_param",
        "loss at optimum": "loss_opt",
        "a = dlogN*/dlogC": "a",
        "b = dlogD*/dlogC": "b",
    }
    table = pd.DataFrame(
        {
            label: {
                "median": alloc[q].iloc[0],
                "lower": alloc[f"{q}_lower"].iloc[0],
                "upper": alloc[f"{q}_upper"].iloc[0],
            }
            for label, q in rows.items()
        }
    ).T
    _print_table(
        table,
        args,
        f"Compute-optimal allocation at C = {DEMO_BUDGET:g} FLOPs (C = 6ND), 90% intervals:",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fig = bs.plot.extrapolation(post, points=DEMO_POINTS, x_max=3e25)
    save_figure(fig, png, dpi=120)
    print(f"\nFan chart written to {png}")
    if args.save:
        post.save(nc)
        print(f"Posterior written to {nc}")
    return _status(post)


def cmd_laws(args) -> int:
    import bayescale as bs

    table = bs.laws()
    if args.json or args.wide:
        _print_table(table, args)
    else:
        print(_narrow_catalog(table))
    return EXIT_OK


def _narrow_catalog(table: pd.DataFrame) -> str:
    """The catalog in ``_WIDTH`` columns, left-aligned: name, inputs, the formula (cut with
    "..." if it must be) and the reference's first author and year (``--wide``: all of it)."""
    refs = table["reference"].str.extract(r"^(.+?\(\d{4}[a-z]?\))", expand=False)
    refs = refs.fillna(table["reference"])
    refs = refs.where(refs.str.len() <= 26, refs.str.slice(0, 23) + "...")
    rows = [("law", "inputs", "formula", "reference")]
    rows += list(zip(table.index, table["inputs"], table["formula"], refs, strict=True))
    w_name, w_in, w_ref = (max(len(str(r[i])) for r in rows) for i in (0, 1, 3))
    room = max(_WIDTH - w_name - w_in - w_ref - 6, 20)  # 6: three gaps of two spaces
    lines = []
    for name, inputs, formula, ref in rows:
        formula = formula if len(formula) <= room else formula[: room - 3] + "..."
        lines.append(f"{name:<{w_name}}  {inputs:<{w_in}}  {formula:<{room}}  {ref}".rstrip())
    return "\n".join(lines)


def _check_out_file(path: str, data: str) -> None:
    """The posterior's file must be writable, and not the data: checked before sampling, not
    after it. ``/dev/null`` is accepted (the fit is discarded)."""
    from ._files import check_target

    target = check_target(path, what="--out")
    with contextlib.suppress(OSError):
        if os.path.abspath(target) == os.path.abspath(data) or os.path.samefile(target, data):
            raise InvalidValueError(
                f"--out {path!r} is the input table {data!r}: writing the fit there would "
                "destroy the data; name another file, e.g. fit.nc"
            )


def _table_options(args) -> dict:
    """``read_table``'s data options from ``--units``, ``--max``, ``--dropna`` and
    ``--drop-duplicates``."""
    options = {"dropna": args.dropna, "drop_duplicates": args.drop_duplicates}
    for flag, key in (("units", "units"), ("max", "max_values")):
        values: dict[str, float] = {}
        for spec in getattr(args, flag) or []:
            for name, value in spec:
                if name in values:
                    raise InvalidValueError(f"--{flag} names column {name!r} twice")
                values[name] = value
        options[key] = values
    return options


def cmd_fit(args) -> int:
    import bayescale as bs

    from ._data import read_table

    _check_out_file(args.out, args.data)
    settings = _method_settings(args)  # before the data are read: a wrong option fails fast
    law = _law(args.law)
    groups = _group_columns(args.groups)
    data = read_table(args.data, law=law, **_table_options(args))  # checked, units applied
    if groups:
        data = _with_group_columns(data, args.data, groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        warnings.simplefilter("ignore", bs.DataWarning)  # read_table reported them already
        warnings.simplefilter("ignore", bs.ParetoKWarning)  # in the notes, printed below
        post = bs.fit(
            law,
            data,
            seed=args.seed,
            noise=args.noise,
            method=args.method,
            groups=groups,
            **settings,
        )
        # learned now and saved with the fit, so forecasts from the file need no refits
        post.calibration  # noqa: B018
    _stop_if_interrupted()
    post.save(args.out)  # before printing: a closed stdout must not lose the fit
    summary = post.summary(level=args.level).rename_axis("param")
    _print_table(summary, args, f"Posterior of {args.law}:")
    if not args.json:
        print(f"\nPosterior written to {args.out}")
    for note in post.notes:  # refits after a failed diagnostic, influential rows
        note = note.replace("noise='student_t'", "--noise student_t")
        if "row(s)" in note:  # rows as read_table numbers them, from 0
            note += f" (row r is line r + 2 of {args.data})"
        print(f"NOTE: {note}", file=sys.stderr)
    return _status(post)


def _method_settings(args) -> dict:
    """The settings of ``--method`` the command line gives: the sampler options set (an option
    the method does not have is an error, naming the ones it has) and, where the method has
    one, a progress bar unless the output is JSON."""
    names = method_of(args.method).option_names()
    settings = {}
    for name, flag in SAMPLER_OPTIONS.items():
        value = getattr(args, name)
        if value is None:
            continue
        if name not in names:
            have = [f for n, f in SAMPLER_OPTIONS.items() if n in names]
            raise InvalidValueError(
                f"{flag} does not apply to --method {args.method}"
                + (f" (its options: {', '.join(have)})" if have else " (it has no sampler options)")
            )
        settings[name] = value
    if "progress" in names:
        settings["progress"] = not args.json
    return settings


def _group_columns(spec: str | None) -> list[str] | None:
    """``--groups family`` or ``--groups family,size``: the group-label columns."""
    if spec is None:
        return None
    names = [name.strip() for name in spec.split(",")]
    if not all(names):
        raise InvalidValueError(
            f"--groups {spec!r}: expected column names like family or family,size"
        )
    if len(set(names)) != len(names):
        raise InvalidValueError(f"--groups {spec!r} names a column twice")
    return names


def _with_group_columns(data: pd.DataFrame, path: str, groups: list[str]) -> pd.DataFrame:
    """``data`` (the law's checked columns) with the group-label columns of the file joined
    on, row by row (rows ``--dropna`` dropped stay dropped)."""
    from ._data import read_table

    raw = read_table(path)  # as read: the labels may be text
    missing = [g for g in groups if g not in raw.columns]
    if missing:
        raise InvalidValueError(
            f"--groups: no column(s) {missing} in {path}; its columns are {list(raw.columns)}"
        )
    labels = raw.loc[data.index, groups]
    empty = labels.isna().any(axis=1)
    if empty.any():
        rows = list(labels.index[empty][:5])
        raise InvalidValueError(
            f"--groups: {int(empty.sum())} row(s) of {path} have no group label, e.g. row(s) "
            f"{rows} (row r is line r + 2 of the file); fill them in or drop those rows"
        )
    out = data.copy()
    for g in groups:
        out[g] = labels[g].to_numpy()
    return out


def _parse_points(specs: list[str], inputs: list[str]) -> dict[str, list[float]]:
    """One point per ``--at`` spec; every point names each of the law's ``inputs`` once."""
    columns: dict[str, list[float]] = {k: [] for k in inputs}
    for i, spec in enumerate(specs, 1):
        where = f"--at point {i} ({spec!r})"
        point: dict[str, float] = {}
        for item in spec.split(","):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise InvalidValueError(
                    f"{where}: expected NAME=VALUE pairs like N=70e9,D=1.4e12; got {item!r}"
                )
            if key not in inputs:
                raise InvalidValueError(
                    f"{where}: unknown input {key!r}; the law's inputs are {inputs}"
                )
            if key in point:
                raise InvalidValueError(f"{where}: input {key!r} given twice")
            try:
                point[key] = float(value)
            except ValueError:
                raise InvalidValueError(f"{where}: {key}={value!r} is not a number") from None
        missing = [k for k in inputs if k not in point]
        if missing:
            raise InvalidValueError(
                f"{where}: missing input(s) {missing}; each point names all of {inputs}"
            )
        for key in inputs:
            columns[key].append(point[key])
    return columns


def _budgets(specs: list[str], flag: str = "--C") -> list[float]:
    out = []
    for spec in specs:
        try:
            out.append(float(spec))
        except ValueError:
            raise InvalidValueError(
                f"{flag} {spec!r} is not a number (FLOPs, e.g. 5.76e23)"
            ) from None
    return out


def cmd_forecast(args) -> int:
    import bayescale as bs

    with _query_programs_cached():
        post = bs.load(args.fit)
        points = _parse_points(args.at, list(post.law.inputs))  # user errors first
        if not _trusted(post, args):
            return EXIT_NOT_CONVERGED
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.ConvergenceWarning)  # said above, on stderr
            table = post.forecast(level=args.level, **points)
        _print_table(table, args)
        return EXIT_OK


def _isoflop_options(args) -> dict:
    """``allocate``'s isoFLOP options: ``--budgets`` and ``--tolerance`` need ``--method
    isoflop``."""
    if args.method != "isoflop":
        for flag, value in (("--budgets", args.budgets), ("--tolerance", args.tolerance)):
            if value is not None:
                raise InvalidValueError(
                    f"{flag} applies to --method isoflop, not --method {args.method}"
                )
        return {}
    options: dict = {"method": "isoflop", "tolerance": args.tolerance}
    if args.budgets is not None:
        options["budgets"] = _budgets(args.budgets.split(","), flag="--budgets")
    return options


def _print_warnings(caught, category) -> None:
    """The caught warnings of ``category`` on stderr, one ``WARNING:`` line each."""
    for w in caught:
        if issubclass(w.category, category):
            print(f"WARNING: {w.message}", file=sys.stderr)


def cmd_allocate(args) -> int:
    import bayescale as bs

    options = _isoflop_options(args)  # user errors first
    budgets = _budgets(args.C)
    with _query_programs_cached():
        post = bs.load(args.fit)
        if not _trusted(post, args):
            return EXIT_NOT_CONVERGED
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", bs.ConvergenceWarning)  # said above, on stderr
            warnings.simplefilter("always", bs.DataWarning)
            table = post.allocate(budgets, level=args.level, **options)
        _print_warnings(caught, bs.DataWarning)
        _print_table(table, args, by="C")
        return EXIT_OK


def _reach_inputs(args) -> tuple[dict, list[float] | None]:
    """``prob-reach``'s run: ``(inputs, None)`` from ``--N``/``--D`` or ``--at``, or
    ``({}, budgets)`` from ``--C``; exactly one of the three ways."""
    given = [
        name
        for name, used in (
            ("--C", args.C is not None),
            ("--N/--D", args.N is not None or args.D is not None),
            ("--at", args.at is not None),
        )
        if used
    ]
    if len(given) != 1:
        raise InvalidValueError(
            "name the run one way: --N and --D (its size), --at NAME=VALUE,... (any law's "
            "inputs) or --C (the compute-optimal run at a FLOP budget)"
            + (f"; got {' and '.join(given)}" if given else "")
        )
    if args.C is not None:
        return {}, _budgets(args.C)
    if args.at is None:
        return {k: v for k, v in (("N", args.N), ("D", args.D)) if v is not None}, None
    return {}, None  # --at: parsed once the law's inputs are known


def cmd_prob_reach(args) -> int:
    import bayescale as bs

    inputs, budgets = _reach_inputs(args)  # user errors first
    with _query_programs_cached():
        post = _load(args.fit)
        if args.at is not None:
            inputs = _parse_points(args.at, list(post.law.inputs))
        if not _trusted(post, args):
            return EXIT_NOT_CONVERGED
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.ConvergenceWarning)  # said above, on stderr
            table = post.prob_reach(args.loss, C=budgets, seed=args.seed, **inputs)
        _print_table(table, args)
        return EXIT_OK


def cmd_cost(args) -> int:
    from ._plan import Hardware

    budgets = _budgets(args.C, flag="C")
    if (args.hardware is None) == (args.peak_flops is None):
        raise InvalidValueError(
            "give --hardware (a preset, e.g. h100) or --peak-flops (FLOP/s per accelerator), "
            "one of them"
        )
    settings = {"mfu": args.mfu, "count": args.count, "price_per_hour": args.price}
    if args.hardware is not None:
        try:
            hardware = Hardware.preset(args.hardware, **settings)
        except ValueError as err:  # say the command line's option
            raise InvalidValueError(
                str(err).replace("bayescale.Hardware(name, peak_flops, ...)", "--peak-flops")
            ) from None
    else:
        hardware = Hardware("custom", args.peak_flops, **settings)
    from ._plan import cost

    table = cost(budgets, hardware=hardware)
    if not args.json:
        price = "no price" if hardware.price_per_hour is None else f"{hardware.price_per_hour:g}/h"
        print(
            f"{hardware.count} x {hardware.name} ({hardware.peak_flops:.4g} FLOP/s peak) at "
            f"{hardware.mfu:.0%} MFU, {price}:"
        )
    _print_table(table, args)
    return EXIT_OK


def cmd_compare(args) -> int:
    import bayescale as bs

    posteriors = {}
    for path in args.fits:
        post = bs.load(path)
        name = post.law.name
        if name in posteriors:  # the same law twice: name it by its file
            name = os.path.splitext(os.path.basename(path))[0]
        posteriors[name] = post
    evidence = {"none": False, "auto": True}.get(args.evidence, args.evidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto-k problems are in the notes, printed below
        cmp = bs.compare(posteriors, evidence=evidence, seed=args.seed)
    table = cmp.table.reset_index()
    if args.json:
        _print_table(table, args)
        return EXIT_OK
    _print_table(cmp._short(), args, "Law comparison (best first, by elpd_loo):")
    for note in cmp.notes:
        print(f"! {note}")
    return EXIT_OK


def _plot_target(args) -> str:
    """``--out`` of ``bayescale plot`` (default: ``FIT_KIND.png`` beside the fit), checked:
    an image type bayescale writes, in a folder that exists."""
    from ._files import check_target

    out = args.out or f"{os.path.splitext(args.fit)[0]}_{args.kind}.png"
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in PLOT_SUFFIXES and os.path.abspath(out) != os.path.abspath(os.devnull):
        raise InvalidValueError(
            f"--out {out!r}: cannot tell the image type from {suffix or 'no suffix'!r}; name "
            f"a file ending in {', '.join(PLOT_SUFFIXES)}"
        )
    return check_target(out, what="--out")


def _plot_options(args) -> dict:
    """The keyword arguments of ``args.kind``'s plot function; options of another kind are an
    error rather than silently ignored."""
    given = {
        "--C": args.C is not None,
        "--x-max": args.x_max is not None,
        "--params": args.params is not None,
    }
    allowed = {"fan": {"--x-max"}, "isoflop": {"--C"}, "frontier": {"--C"}, "pairs": {"--params"}}
    for flag, used in given.items():
        if used and flag not in allowed[args.kind]:
            kinds = [k for k, flags in allowed.items() if flag in flags]
            raise InvalidValueError(
                f"{flag} applies to --kind {' or '.join(kinds)}, not --kind {args.kind}"
            )
    if args.kind == "fan":
        return {"level": args.level, "x_max": args.x_max}
    if args.kind == "isoflop":
        return {"level": args.level, "C": _budgets(args.C) if args.C else None}
    if args.kind == "frontier":
        if not args.C:
            return {"level": args.level}
        budgets = _budgets(args.C)
        if len(budgets) != 2 or not 0 < budgets[0] < budgets[1]:
            raise InvalidValueError(
                f"--kind frontier takes --C twice, the smallest and the largest budget (e.g. "
                f"--C 1e18 --C 1e25); got {args.C}"
            )
        return {"level": args.level, "C_range": tuple(budgets)}
    names = [n.strip() for n in args.params.split(",")] if args.params else None
    if names is not None and not all(names):
        raise InvalidValueError(f"--params {args.params!r}: expected names like E,alpha,beta")
    return {"var_names": names}


def cmd_plot(args) -> int:
    out = _plot_target(args)  # user errors first: before loading the fit
    options = _plot_options(args)
    import matplotlib

    matplotlib.use("Agg")  # no display: the image goes to a file
    import matplotlib.pyplot as plt

    import bayescale as bs

    from ._files import save_figure

    post = _load(args.fit)
    if not _trusted(post, args):
        return EXIT_NOT_CONVERGED
    draw = {
        "fan": bs.plot.extrapolation,
        "isoflop": bs.plot.isoflop,
        "frontier": bs.plot.frontier,
        "pairs": bs.plot.pairs,
    }[args.kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # said above, on stderr
        fig = draw(post, **options)
    try:
        _stop_if_interrupted()
        save_figure(fig, out, dpi=args.dpi)
    finally:
        plt.close(fig)
    print(f"{args.kind} plot of {args.fit} written to {out}")
    return EXIT_OK


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, e.g. 1e25; got {text!r}")
    return value


def _factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 1 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a factor above 1, e.g. 1.1; got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1], e.g. 0.4 for 40%; got {text!r}"
        )
    return value


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a price of 0 or more, e.g. 2.5; got {text!r}")
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a probability strictly between 0 and 1, e.g. 0.95 for 95%; got {text!r}"
        )
    return value


def _count(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            kind = "a positive integer" if low == 1 else f"an integer >= {low}"
            raise argparse.ArgumentTypeError(f"must be {kind}; got {text!r}")
        return value

    return parse


def _seed(text: str) -> int:
    from ._data import check_seed

    try:
        return check_seed(int(text.strip()))
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, 2**63), e.g. 0; got {text!r}"
        ) from None


def _pairs(what: str, example: str, *, infinite: bool = False):
    """A parser of ``COL=NUMBER[,COL=NUMBER...]`` with positive numbers (``inf`` allowed when
    ``infinite``)."""

    def parse(text: str) -> list[tuple[str, float]]:
        out = []
        for item in text.split(","):
            name, sep, value = item.partition("=")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            valid = number > 0 and (math.isfinite(number) or (infinite and number == math.inf))
            if not sep or not name.strip() or not valid:
                raise argparse.ArgumentTypeError(
                    f"expected COL={what} with a positive number, e.g. {example}; got {item!r}"
                )
            out.append((name.strip(), number))
        return out

    return parse


_units = _pairs("FACTOR", "N=1e9")


_JSON_HELP = "print JSON records (6 significant digits) instead of a table"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayescale",
        description="Bayesian scaling laws: posteriors, forecasts with intervals, allocation.",
        epilog="examples:\n  bayescale demo\n  bayescale laws\n"
        "  bayescale fit runs.csv --law chinchilla --out fit.nc\n"
        "  bayescale forecast fit.nc --at N=70e9,D=1.4e12\n"
        "  bayescale allocate fit.nc --C 5.76e23 --json\n"
        "  bayescale prob-reach fit.nc --loss 2.0 --N 7e10 --D 1.4e12\n"
        "  bayescale cost 5.76e23 --hardware a100 --count 1024 --price 1.5\n"
        "  bayescale compare chinchilla.nc kaplan.nc\n"
        "  bayescale plot fit.nc --kind isoflop --out isoflop.png\n\n"
        "exit codes: 0 success; 1 the fit failed its convergence diagnostics (forecast,\n"
        "  allocate and plot give no output from such a fit without --force), or a\n"
        "  computation on it did not succeed; 2 a user error (bad arguments or data);\n"
        "  3 internal error (please report); 130 interrupted (Ctrl-C, nothing written)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def sampler_args(p, defaults=True):
        """--seed and the sampler options; ``defaults=False``: unset options are None (the
        method's own defaults, shown in the help)."""
        shown = "" if defaults else " (default: the method's; nuts: {})"
        p.add_argument("--seed", type=_seed, default=0, help="integer in [0, 2**63)")
        p.add_argument(
            "--num-chains",
            type=_count(1),
            default=4 if defaults else None,
            help="independent chains" + shown.format(4),
        )
        p.add_argument(
            "--num-warmup",
            type=_count(0),
            default=1000 if defaults else None,
            help="adaptation steps per chain" + shown.format(1000),
        )
        p.add_argument(
            "--num-samples",
            type=_count(1),
            default=1000 if defaults else None,
            help="draws per chain" + shown.format(1000),
        )

    def data_args(p):
        p.add_argument(
            "--units",
            action="append",
            type=_units,
            metavar="COL=FACTOR",
            help="the column holds multiples of FACTOR, e.g. N=1e9 for billions of "
            "parameters (repeatable, or comma-separated)",
        )
        p.add_argument(
            "--max",
            action="append",
            type=_pairs("BOUND", "N=1e16", infinite=True),
            metavar="COL=BOUND",
            help="raise the plausible upper bound of a column (raw units, after --units; "
            "defaults: N 1e15 parameters, D and U 1e17 tokens, C 1e30 FLOPs; inf: none)",
        )
        p.add_argument(
            "--dropna",
            action="store_true",
            help="drop rows with missing/non-finite values (reported) instead of failing",
        )
        p.add_argument(
            "--drop-duplicates",
            action="store_true",
            help="drop rows repeating an earlier row (reported) instead of keeping them",
        )

    p = sub.add_parser("demo", help="fit Chinchilla to the bundled data and report")
    sampler_args(p)
    p.add_argument("--out", default="bayescale_demo", help="folder for the fan chart PNG")
    p.add_argument("--save", action="store_true", help="also write the posterior (netCDF)")
    p.set_defaults(func=cmd_demo, json=False)

    p = sub.add_parser("laws", help="list the law catalog")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.add_argument(
        "--wide",
        action="store_true",
        help=f"print whole formulas and references (not {_WIDTH} columns)",
    )
    p.set_defaults(func=cmd_laws)

    p = sub.add_parser(
        "fit",
        help="fit a law to a CSV/Parquet table",
        epilog="example: bayescale fit runs.csv --law chinchilla --out fit.nc",
    )
    p.add_argument("data", help="CSV or Parquet with the law's input columns and 'loss'")
    p.add_argument("--law", required=True, help="a catalog law's name (`bayescale laws`)")
    p.add_argument("--out", required=True, help="netCDF file for the posterior")
    p.add_argument(
        "--noise",
        default="normal",
        help="noise model: normal (on log-loss, default), contaminated (a share of runs "
        "scatters 4x more: robust to bad runs), student_t (robust to outliers), "
        "student_t_DF (fixed degrees of freedom), undertrained (one-sided excess of runs "
        "stopped early), scaled_N, scaled_D, scaled_C (scale varying with an input), beta, "
        "binomial_K, beta_binomial_K (accuracies of K questions, any K)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default=DEFAULT_METHOD.name,
        help="inference method: nuts (default; No-U-Turn sampler), chees (ChEES-HMC, chains in "
        "lock-step, for accelerators), laplace, svi, map (fast approximations of the "
        "posterior), hoffmann (Hoffmann/Epoch Huber point fit with bootstrap, chinchilla "
        "law); a sampler option below that the method does not have is an error",
    )
    p.add_argument(
        "--groups",
        metavar="COL[,COL]",
        help="column(s) of group labels (e.g. model family): fit the law across the groups, "
        "hierarchically (each parameter per group, partially pooled); several columns: a group "
        "per combination of their values",
    )
    p.add_argument(
        "--level",
        type=_level,
        default=DEFAULT_LEVEL,
        help="interval probability (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    data_args(p)
    sampler_args(p, defaults=False)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "forecast",
        help="forecast from a saved fit",
        epilog="example: bayescale forecast fit.nc --at N=70e9,D=1.4e12",
    )
    p.add_argument("fit", help="netCDF file written by `bayescale fit`")
    p.add_argument("--at", action="append", required=True, help="NAME=VALUE,... (repeatable)")
    p.add_argument(
        "--level",
        type=_level,
        default=DEFAULT_LEVEL,
        help="interval probability (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.add_argument(
        "--force",
        action="store_true",
        help="print numbers even from a fit that failed its diagnostics (exit 0, warned)",
    )
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser(
        "allocate",
        help="compute-optimal allocation from a saved fit",
        epilog="example: bayescale allocate fit.nc --C 5.76e23 --C 1e24",
    )
    p.add_argument("fit", help="netCDF file written by `bayescale fit`")
    p.add_argument("--C", action="append", required=True, help="FLOP budget (repeatable)")
    p.add_argument(
        "--level",
        type=_level,
        default=DEFAULT_LEVEL,
        help="interval probability (default %(default)s)",
    )
    p.add_argument(
        "--method",
        choices=["parametric", "isoflop"],
        default="parametric",
        help="parametric (default): the law's own optimum per posterior draw; isoflop: "
        "parabolas through the fit's isoFLOP curves (Hoffmann et al.'s Approach 2), warned "
        "where its exponent a disagrees with the law's",
    )
    p.add_argument(
        "--budgets",
        metavar="FLOPS[,FLOPS...]",
        help="isoflop: the curves' FLOP budgets, comma-separated (default: runs grouped by "
        "compute)",
    )
    p.add_argument(
        "--tolerance",
        type=_factor,
        help="isoflop: runs within this factor of each other's compute (or of a --budgets "
        "value) form one curve (default 1.1)",
    )
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.add_argument(
        "--force",
        action="store_true",
        help="print numbers even from a fit that failed its diagnostics (exit 0, warned)",
    )
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser(
        "prob-reach",
        help="the chance that a run reaches a target loss, from a saved fit",
        epilog="examples:\n  bayescale prob-reach fit.nc --loss 2.0 --N 7e10 --D 1.4e12\n"
        "  bayescale prob-reach fit.nc --loss 1.9 --loss 2.0 --C 5.76e23",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("fit", help="netCDF file written by `bayescale fit`")
    p.add_argument(
        "--loss",
        action="append",
        type=_positive,
        required=True,
        help="target loss (repeatable: one per run, or several for one run)",
    )
    p.add_argument("--N", type=_positive, help="the run's parameters")
    p.add_argument("--D", type=_positive, help="the run's training tokens")
    p.add_argument(
        "--at", action="append", help="the run as NAME=VALUE,... of the law's inputs (repeatable)"
    )
    p.add_argument(
        "--C",
        action="append",
        metavar="FLOPS",
        help="instead: the compute-optimal run at this FLOP budget (repeatable)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="seed of the predictive draws")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.add_argument(
        "--force",
        action="store_true",
        help="print numbers even from a fit that failed its diagnostics (exit 0, warned)",
    )
    p.set_defaults(func=cmd_prob_reach)

    p = sub.add_parser(
        "cost",
        help="accelerator-hours, days and money for a run of C FLOPs",
        epilog="example: bayescale cost 5.76e23 --hardware a100 --count 1024 --price 1.5",
    )
    p.add_argument("C", nargs="+", help="FLOPs of the run(s), e.g. 5.76e23")
    p.add_argument(
        "--hardware",
        help="accelerator preset: a100, h100, h100_pcie, h200, b200, gb200, mi300x, tpu_v3, "
        "tpu_v4, tpu_v5e, tpu_v5p, tpu_v6e (peak dense BF16 from the vendors' datasheets)",
    )
    p.add_argument(
        "--peak-flops", type=_positive, help="instead of --hardware: peak FLOP/s per accelerator"
    )
    p.add_argument("--count", type=_count(1), default=1, help="accelerators (default 1)")
    p.add_argument(
        "--mfu", type=_fraction, default=0.4, help="model FLOPs utilisation (default 0.4)"
    )
    p.add_argument("--price", type=_price, help="price per accelerator-hour (default: none)")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser(
        "compare",
        help="compare saved fits of different laws on the same data (LOO, WAIC, evidence)",
        epilog="example: bayescale compare chinchilla.nc kaplan.nc --json",
    )
    p.add_argument("fits", nargs="+", help="two or more netCDF fits from `bayescale fit`")
    p.add_argument(
        "--evidence",
        choices=["auto", "bridge", "smc", "none"],
        default="auto",
        help="log-evidence estimator (bridge: on the saved draws, MCMC fits only; smc: "
        "tempered SMC from a mode-centred Student-t, ~30 s per law with compilation; auto: "
        "bridge for MCMC fits, smc for approximate ones)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="integer in [0, 2**63)")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "plot",
        help="draw a saved fit: fan chart, isoFLOP curves, frontier or pairs (PNG, SVG, PDF)",
        epilog="examples:\n  bayescale plot fit.nc --out fan.png\n"
        "  bayescale plot fit.nc --kind isoflop --C 1e20 --C 1e21 --out isoflop.svg\n"
        "  bayescale plot fit.nc --kind pairs --params E,alpha,beta --out pairs.pdf",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("fit", help="netCDF file written by `bayescale fit`")
    p.add_argument(
        "--kind",
        choices=PLOT_KINDS,
        default="fan",
        help="fan (default): the runs, the law and its credible and predictive bands "
        "extrapolated past the data; isoflop: loss against N at fixed budgets, with N* and the "
        "runs of each budget; frontier: compute-optimal N* and D* against C; pairs: corner "
        "plot of the posterior (isoflop and frontier need a law in N and D)",
    )
    p.add_argument(
        "--out",
        help="image file; its suffix picks the format: .png, .svg or .pdf (default: "
        "FIT_KIND.png beside the fit, e.g. fit_fan.png)",
    )
    p.add_argument(
        "--C",
        action="append",
        metavar="FLOPS",
        help="isoflop: a budget per curve (repeatable; default: the budgets most runs were "
        "trained at); frontier: twice, the smallest and the largest budget",
    )
    p.add_argument(
        "--x-max",
        type=_positive,
        help="fan: right end of the x axis (default: 1000x the largest run)",
    )
    p.add_argument(
        "--params",
        metavar="P[,P...]",
        help="pairs: comma-separated parameters (default: the law's published parameters)",
    )
    p.add_argument(
        "--level",
        type=_level,
        default=DEFAULT_LEVEL,
        help="probability of the bands (default %(default)s)",
    )
    p.add_argument("--dpi", type=_count(1), default=150, help="resolution of a PNG, dots per inch")
    p.add_argument(
        "--force",
        action="store_true",
        help="draw even a fit that failed its diagnostics (exit 0, warned)",
    )
    p.set_defaults(func=cmd_plot, json=False)
    return parser


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at devnull so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor
        pass


def _on_interrupt(signum, frame) -> None:
    """SIGINT: remember it (no file is replaced from now on, even where the exception below is
    swallowed by a callback that ignores exceptions), then stop the command."""
    from ._files import INTERRUPTED

    INTERRUPTED.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signal_handlers():
    """While a command runs on the main thread: Ctrl-C through :func:`_on_interrupt`, and a
    file-size limit (SIGXFSZ) as a failed write (``OSError``) instead of a killed process."""
    from ._files import INTERRUPTED, WRITTEN

    INTERRUPTED.clear()
    WRITTEN.clear()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_interrupt)
        if hasattr(signal, "SIGXFSZ"):
            previous[signal.SIGXFSZ] = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        INTERRUPTED.clear()  # the command is over: a caller in this process writes again


def _interrupted(command: str) -> int:
    from ._files import WRITTEN

    done = f"{', '.join(WRITTEN)} was written before it" if WRITTEN else "nothing written"
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    print(f"bayescale {command}: interrupted; {done}", file=sys.stderr)
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (see the module docstring).

    Called with ``argv=None`` (as the ``bayescale`` console script), an interrupted command
    ends the process at once with 130 after its one line, skipping interpreter teardown, where
    half-finished JAX or HDF5 objects could still crash it.
    """
    args = build_parser().parse_args(argv)
    try:
        with _signal_handlers():
            code = _run(args)
    except KeyboardInterrupt:  # raised again while handlers were restored
        code = _interrupted(args.command)
    if code == EXIT_INTERRUPTED and argv is None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    return code


def _run(args) -> int:
    from ._files import INTERRUPTED

    try:
        code = args.func(args)
        if INTERRUPTED.is_set():  # an interrupt that something swallowed
            return _interrupted(args.command)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return _interrupted(args.command)
    except BrokenPipeError:  # the reader went away (`bayescale laws | head -1`)
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (BayescaleError, OSError) as err:  # a message that says what to change
        message = err.cli_message if isinstance(err, DataError) else str(err)
        print(f"bayescale {args.command}: error: {message}", file=sys.stderr)
        return EXIT_NOT_CONVERGED if isinstance(err, ComputationError) else EXIT_USER_ERROR
    except Exception:
        traceback.print_exc()
        print(
            f"bayescale {args.command}: internal error (please report it with the traceback above)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
