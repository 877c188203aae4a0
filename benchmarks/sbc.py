"""Simulation-based calibration (SBC) of every catalog law with its default priors.

For each replicate r = 1..R (Talts et al. 2018, Algorithm 1):

1. draw parameters and a data set from the law's prior predictive (the very NumPyro model the
   fit uses, so prior and likelihood match exactly) at the law's battery-case inputs
   (``tests/cases_<family>.py``: ``make_inputs`` and ``n``);
2. fit the data with :func:`bayescale.fit` (NUTS, the engine under test);
3. thin the posterior draws to L nearly independent draws (every ``S // L``-th of the S kept
   draws) and record the rank of the true value among them, ``r = #{draws < truth}`` in 0..L.

If the whole pipeline is calibrated, each parameter's ranks are uniform on {0, ..., L}. The test:
the L + 1 rank values are grouped into B equal bins and Pearson's chi-square statistic of the
bin counts against R / B each is compared with chi-square(B - 1); a parameter fails at
p < 0.01 / P (Bonferroni over the P parameters of a law). Failed replicates (diagnostic
problems) are kept: dropping them would bias the ranks; their count is reported.

Run (prints one table per law; ~1-2 s per replicate on 2 CPU cores)::

    .venv/bin/python benchmarks/sbc.py                  # R=200, L=99, B=10
    .venv/bin/python benchmarks/sbc.py --replicates 40 --draws 19 --bins 4   # quick

References:
    Talts, Betancourt, Simpson, Vehtari, Gelman (2018), Validating Bayesian inference
    algorithms with simulation-based calibration, arXiv:1804.06788.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pathlib
import sys
import time
import warnings

import jax
import numpy as np
import pandas as pd
from scipy import stats

import bayescale as bs
from bayescale._model import build_model

TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"


@dataclasses.dataclass(frozen=True)
class SBCResult:
    """Ranks and the uniformity test of one law.

    Attributes:
        law: Law name.
        params: Parameter names (sampling space, then noise parameters).
        ranks: ``(replicates, params)`` ranks in ``0..draws``.
        draws: L, the thinned posterior draws each rank is taken among.
        bins: B, the number of rank bins of the chi-square test.
        chi2: Chi-square statistic per parameter.
        pvalue: Its p-value per parameter (chi-square with B - 1 degrees of freedom).
        failed_fits: Replicates whose fit failed a diagnostic (kept in the ranks).
        skipped: Prior-predictive data sets that were not finite (not fitted).
        seconds: Wall time.
        truth: ``(replicates, params)`` the simulated parameter values.
        thinned: ``(replicates, params, draws)`` the thinned posterior draws.
    """

    law: str
    params: tuple[str, ...]
    ranks: np.ndarray
    draws: int
    bins: int
    chi2: np.ndarray
    pvalue: np.ndarray
    failed_fits: int
    skipped: int
    seconds: float
    truth: np.ndarray
    thinned: np.ndarray

    @property
    def alpha(self) -> float:
        """Per-parameter significance level: 0.01 Bonferroni-corrected over parameters."""
        return 0.01 / len(self.params)

    @property
    def uniform(self) -> bool:
        return bool(np.all(self.pvalue >= self.alpha))

    def table(self) -> pd.DataFrame:
        counts = [
            rank_counts(self.ranks[:, j], self.draws, self.bins) for j in range(len(self.params))
        ]
        return pd.DataFrame(
            {
                "chi2": self.chi2,
                "p": self.pvalue,
                "uniform": self.pvalue >= self.alpha,
                "bin counts": [" ".join(map(str, c)) for c in counts],
            },
            index=list(self.params),
        )


def rank_counts(ranks: np.ndarray, draws: int, bins: int) -> np.ndarray:
    """Counts of ranks (in ``0..draws``) in ``bins`` equal bins; ``draws + 1`` must divide."""
    if (draws + 1) % bins:
        raise ValueError(f"bins={bins} must divide the {draws + 1} possible rank values")
    return np.bincount(np.asarray(ranks) // ((draws + 1) // bins), minlength=bins)


def chi2_uniform(ranks: np.ndarray, draws: int, bins: int) -> tuple[float, float]:
    """Pearson chi-square test of uniform ranks: ``(statistic, p-value)``."""
    res = stats.chisquare(rank_counts(ranks, draws, bins))
    return float(res.statistic), float(res.pvalue)


def thin(post_draws: np.ndarray, draws: int) -> np.ndarray:
    """``draws`` posterior draws taken evenly (every ``S // draws``-th) from ``(chain, draw)``."""
    flat = np.asarray(post_draws).reshape(-1)
    step = flat.size // draws
    if step < 1:
        raise ValueError(f"{flat.size} posterior draws cannot be thinned to {draws}")
    return flat[::step][:draws]


def ranks_of(truth: np.ndarray, thinned: np.ndarray) -> np.ndarray:
    """Ranks ``#{draws < truth}``: truth ``(R, P)``, thinned draws ``(R, P, L)`` -> ``(R, P)``."""
    return np.sum(thinned < truth[..., None], axis=-1)


def run_sbc(
    law: bs.Law,
    make_inputs,
    *,
    n_rows: int,
    replicates: int = 200,
    draws: int = 99,
    bins: int = 10,
    noise: str = "normal",
    seed: int = 0,
    num_chains: int = 2,
    num_warmup: int = 500,
    num_samples: int = 500,
    fit_kwargs: dict | None = None,
) -> SBCResult:
    """SBC of ``law`` with its default priors; see the module docstring."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = make_inputs(rng, n_rows)
    model = build_model(law, noise)
    from numpyro.infer import Predictive

    prior = Predictive(model, num_samples=replicates)(
        jax.random.PRNGKey(seed), {k: np.asarray(v, np.float64) for k, v in x.items()}
    )
    params = (*law.param_names, *bs.noise_of(noise).params)
    truths, thinned, failed, skipped = [], [], 0, 0
    for r in range(replicates):
        y = np.asarray(prior["obs"][r])
        if not np.all(np.isfinite(y)):
            skipped += 1
            continue
        df = pd.DataFrame({**x, law.target: y})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            post = bs.fit(
                law,
                df,
                seed=seed + r,
                noise=noise,
                num_chains=num_chains,
                num_warmup=num_warmup,
                num_samples=num_samples,
                **(fit_kwargs or {}),
            )
        failed += not post.ok
        truths.append([float(np.asarray(prior[p][r])) for p in params])
        thinned.append([thin(post.draws[p], draws) for p in params])
    truth, thinned = np.asarray(truths), np.asarray(thinned)
    ranks = ranks_of(truth, thinned)
    tests = [chi2_uniform(ranks[:, j], draws, bins) for j in range(len(params))]
    return SBCResult(
        law=law.name,
        params=params,
        ranks=ranks,
        draws=draws,
        bins=bins,
        chi2=np.array([t[0] for t in tests]),
        pvalue=np.array([t[1] for t in tests]),
        failed_fits=failed,
        skipped=skipped,
        seconds=time.perf_counter() - start,
        truth=truth,
        thinned=thinned,
    )


def battery_cases() -> dict[str, object]:
    """The first battery case of each law, by law name (tests/cases_*.py)."""
    sys.path.insert(0, str(TESTS))
    cases = {}
    for path in sorted(TESTS.glob("cases_*.py")):
        for case in importlib.import_module(path.stem).CASES:
            cases.setdefault(case.law.name, case)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--draws", type=int, default=99, help="L: thinned draws per rank")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--rows", type=int, default=None, help="rows per data set (case's n)")
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--laws", nargs="*", default=None, help="subset of the catalog")
    parser.add_argument("--skip", nargs="*", default=None, help="laws to leave out")
    args = parser.parse_args(argv)

    cases = battery_cases()
    names = args.laws or list(bs.laws().index)
    skip = set(args.skip or ())
    all_uniform = True
    for name in names:
        if name in skip:
            continue
        law = getattr(bs.models, name)
        case = cases.get(name)
        if case is None:
            print(f"== {name}: no battery case in tests/cases_*.py; skipped\n", flush=True)
            continue
        fit_kwargs = {k: v for k, v in case.fit_kwargs.items() if k not in ("seed",)}
        noise = fit_kwargs.pop("noise", "normal")
        for k in ("num_chains", "num_warmup", "num_samples", "priors"):
            fit_kwargs.pop(k, None)
        try:
            res = run_sbc(
                law,
                case.make_inputs,
                n_rows=args.rows or case.n,
                replicates=args.replicates,
                draws=args.draws,
                bins=args.bins,
                noise=noise,
                seed=args.seed,
                num_chains=args.num_chains,
                num_warmup=args.num_warmup,
                num_samples=args.num_samples,
                fit_kwargs=fit_kwargs,
            )
        except Exception as err:  # noqa: BLE001 -- report and go on to the next law
            all_uniform = False
            print(f"== {name}: SBC could not run: {type(err).__name__}: {err}\n", flush=True)
            continue
        all_uniform &= res.uniform
        print(
            f"== {name}: {len(res.ranks)} replicates ({res.skipped} skipped, {res.failed_fits} "
            f"fits failed a diagnostic), L={res.draws}, {res.bins} bins, "
            f"{args.rows or case.n} rows, {args.num_chains}x({args.num_warmup}+"
            f"{args.num_samples}), {res.seconds:.0f} s; per-parameter level {res.alpha:.4f}"
        )
        print(res.table().to_string(float_format=lambda v: f"{v:.3g}"))
        print("uniform" if res.uniform else "NOT UNIFORM", "\n", flush=True)
    return 0 if all_uniform else 1


if __name__ == "__main__":
    sys.exit(main())
