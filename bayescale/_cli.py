"""Command line: ``bayescale demo | laws | fit | forecast | allocate | compare``.

Exit codes: 0 success; 1 the fit finished but failed its convergence diagnostics; 2 a user error
(bad arguments or data), reported in one line without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import pandas as pd

EXIT_OK, EXIT_NOT_CONVERGED, EXIT_USER_ERROR = 0, 1, 2

DEMO_POINTS = {"Chinchilla": {"N": 70e9, "D": 1.4e12}, "Gopher": {"N": 280e9, "D": 300e9}}
DEMO_BUDGET = 5.76e23


def _print_table(df: pd.DataFrame, args, title: str | None = None) -> None:
    if getattr(args, "json", False):
        print(df.to_json(orient="records", double_precision=10))
        return
    if title:
        print(f"\n{title}")
    with pd.option_context("display.width", 160, "display.max_columns", 40):
        print(df.to_string(float_format=lambda v: f"{v:.4g}"))


def _law(name: str):
    import bayescale as bs

    law = getattr(bs.models, name, None)
    if not isinstance(law, bs.Law):
        raise ValueError(f"unknown law {name!r}; run `bayescale laws` for the catalog")
    return law


def _status(post) -> int:
    if post.ok:
        return EXIT_OK
    print("\nWARNING: the fit FAILED its diagnostics; do not trust it:", file=sys.stderr)
    for p in post.problems:
        print(f"  - {p}", file=sys.stderr)
    return EXIT_NOT_CONVERGED


def cmd_demo(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import bayescale as bs
    from bayescale.models import chinchilla

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
    summary = post.summary(level=0.95)
    ref = data.attrs["reference"]
    summary["epoch_refit"] = [ref[k][0] if k in ref else float("nan") for k in summary.index]
    _print_table(
        summary[["median", "lower", "upper", "r_hat", "ess_bulk", "ess_tail", "epoch_refit"]],
        args,
        "Posterior (median, 95% interval; Epoch's refit for reference):",
    )
    fc = pd.concat(
        [post.forecast(level=0.9, **pt).assign(model=name) for name, pt in DEMO_POINTS.items()]
    ).set_index("model")
    _print_table(
        fc,
        args,
        "Forecast loss, 90% credible (mean_*) and predictive (pred_*) "
        "intervals; extrapolation = decades outside the data:",
    )
    alloc = post.allocate(DEMO_BUDGET, level=0.9)
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
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "chinchilla_fanchart.png")
    ax = bs.plot.extrapolation(post, points=DEMO_POINTS, x_max=3e25)
    ax.figure.savefig(png, dpi=120)
    print(f"\nFan chart written to {png}")
    if args.save:
        post.save(os.path.join(args.out, "chinchilla_fit.nc"))
        print(f"Posterior written to {os.path.join(args.out, 'chinchilla_fit.nc')}")
    return _status(post)


def cmd_laws(args) -> int:
    import bayescale as bs

    _print_table(bs.laws(), args)
    return EXIT_OK


def cmd_fit(args) -> int:
    import bayescale as bs

    from ._data import read_table

    data = read_table(args.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        post = bs.fit(
            _law(args.law),
            data,
            seed=args.seed,
            noise=args.noise,
            num_chains=args.num_chains,
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            progress=not args.json,
        )
    _print_table(post.summary(level=args.level), args, f"Posterior of {args.law}:")
    post.save(args.out)
    if not args.json:
        print(f"\nPosterior written to {args.out}")
    return _status(post)


def _parse_points(specs: list[str]) -> dict[str, list[float]]:
    columns: dict[str, list[float]] = {}
    for spec in specs:
        for item in spec.split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(
                    f"--at expects NAME=VALUE pairs like N=70e9,D=1.4e12; got {item!r}"
                )
            columns.setdefault(key.strip(), []).append(float(value))
    return columns


def cmd_forecast(args) -> int:
    import bayescale as bs

    post = bs.load(args.fit)
    _print_table(post.forecast(level=args.level, **_parse_points(args.at)), args)
    return EXIT_OK


def cmd_allocate(args) -> int:
    import bayescale as bs

    post = bs.load(args.fit)
    _print_table(post.allocate([float(c) for c in args.C], level=args.level), args)
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
    evidence = False if args.evidence == "none" else args.evidence
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayescale",
        description="Bayesian scaling laws: posteriors, forecasts with intervals, allocation.",
        epilog="examples:\n  bayescale demo\n  bayescale laws\n"
        "  bayescale fit runs.csv --law chinchilla --out fit.nc\n"
        "  bayescale forecast fit.nc --at N=70e9,D=1.4e12\n"
        "  bayescale allocate fit.nc --C 5.76e23 --json\n"
        "  bayescale compare chinchilla.nc kaplan.nc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def sampler_args(p, warmup=1000, samples=1000):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--num-chains", type=int, default=4)
        p.add_argument("--num-warmup", type=int, default=warmup)
        p.add_argument("--num-samples", type=int, default=samples)

    p = sub.add_parser("demo", help="fit Chinchilla to the bundled data and report")
    sampler_args(p)
    p.add_argument("--out", default="bayescale_demo", help="folder for the fan chart PNG")
    p.add_argument("--save", action="store_true", help="also write the posterior (netCDF)")
    p.set_defaults(func=cmd_demo, json=False)

    p = sub.add_parser("laws", help="list the law catalog")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_laws)

    p = sub.add_parser(
        "fit",
        help="fit a law to a CSV/Parquet table",
        epilog="example: bayescale fit runs.csv --law chinchilla --out fit.nc",
    )
    p.add_argument("data", help="CSV or Parquet with the law's input columns and 'loss'")
    p.add_argument("--law", required=True)
    p.add_argument("--out", required=True, help="netCDF file for the posterior")
    p.add_argument("--noise", default="normal")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--json", action="store_true")
    sampler_args(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "forecast",
        help="forecast from a saved fit",
        epilog="example: bayescale forecast fit.nc --at N=70e9,D=1.4e12",
    )
    p.add_argument("fit")
    p.add_argument("--at", action="append", required=True, help="NAME=VALUE,... (repeatable)")
    p.add_argument("--level", type=float, default=0.9)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser(
        "allocate",
        help="compute-optimal allocation from a saved fit",
        epilog="example: bayescale allocate fit.nc --C 5.76e23 --C 1e24",
    )
    p.add_argument("fit")
    p.add_argument("--C", action="append", required=True, help="FLOP budget (repeatable)")
    p.add_argument("--level", type=float, default=0.9)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser(
        "compare",
        help="compare saved fits of different laws on the same data (LOO, WAIC, evidence)",
        epilog="example: bayescale compare chinchilla.nc kaplan.nc --json",
    )
    p.add_argument("fits", nargs="+", help="two or more netCDF fits from `bayescale fit`")
    p.add_argument(
        "--evidence",
        choices=["bridge", "smc", "none"],
        default="bridge",
        help="log-evidence estimator (bridge: on the saved draws; smc: tempered SMC from a "
        "mode-centred Student-t, ~30 s per law with compilation)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, OSError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"bayescale {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
