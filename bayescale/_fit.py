"""``fit``: data and a law in, a Posterior out."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpyro.distributions as dist
import pandas as pd

from ._data import check_seed, validate_for_law
from ._diagnostics import (
    check_convergence,
    check_draws,
    convergence_table,
    identification_hints,
)
from ._errors import InvalidTypeError
from ._inference import in_notebook, run_nuts
from ._law import Law
from ._methods import NUTS, Method, method_of
from ._noise import Noise, noise_of
from ._posterior import Posterior
from ._priors import apply_priors

__all__ = ["fit"]


# Escalation of a default NUTS fit that fails its diagnostics, measured on the robustness
# battery (benchmarks/robustness.py): the failures on small or one-decade ladders are
# divergences and low ESS in the curved region where E is weakly identified; a target
# acceptance of 0.99 (smaller steps) with twice the warmup and draws removes most, and a deeper
# tree limit lets the smaller steps still cross the posterior.
_ESCALATED_SETTINGS = ("num_warmup", "num_samples", "target_accept_prob", "max_tree_depth")
_ESCALATION = (
    (
        "target_accept_prob=0.99 and twice num_warmup and num_samples",
        lambda s: dataclasses.replace(
            s,
            target_accept_prob=max(s.target_accept_prob, 0.99),
            num_warmup=2 * s.num_warmup,
            num_samples=2 * s.num_samples,
        ),
    ),
)


def _problem_names(problems) -> str:
    """The short names of diagnostic failures ("12 divergent transitions after warmup")."""
    return "; ".join(p.split(":")[0].split(" (")[0] for p in problems)


# From this many rows on, "auto" runs the chains one after another on one CPU device. On
# XLA:CPU a program split over several devices holds buffers that grow with rows x sampler steps
# until it finishes (measured with 24,000 rows, 4 x (1000 + 1000): 2.0 GB peak against 0.9 GB
# on one device; the same with pmap), so big ladders trade the second core for bounded memory.
# Splitting the rows instead (chain_method="split_rows") pays a cross-device sum per gradient:
# 22x slower than the chains over two devices at 2,400 rows (19.9 s against 0.89 s).
SEQUENTIAL_FROM = 16384


def _resolve_chain_method(chain_method: str, num_chains: int, num_rows: int = 0) -> str:
    if chain_method != "auto":
        return chain_method
    if len(jax.local_devices()) < 2 or num_chains < 2:
        return "sequential"
    if num_rows >= SEQUENTIAL_FROM and jax.default_backend() == "cpu":
        return "sequential"
    return "parallel"


def fit(
    law: Law,
    data: pd.DataFrame,
    *,
    seed: int = 0,
    noise: Noise | str = "normal",
    priors: Mapping[str, dist.Distribution] | str | None = None,
    method: Method | str | None = None,
    num_chains: int | None = None,
    num_warmup: int | None = None,
    num_samples: int | None = None,
    target_accept_prob: float | None = None,
    dense_mass: bool | None = None,
    max_tree_depth: int | None = None,
    chain_method: str | None = None,
    progress: bool | None = None,
    groups: str | Sequence[str] | None = None,
    pooled: Sequence[str] | str = (),
    shared: Sequence[str] | str = (),
    separate: Sequence[str] | str | None = None,
    offset: bool = False,
    centred: Sequence[str] | str | bool | Mapping[str, Sequence[Any]] = (),
    units: Mapping[str, float] | None = None,
    dropna: bool = False,
    drop_duplicates: bool = False,
    escalate: bool | None = None,
    **options: Any,
) -> Posterior:
    """Fit a scaling law to measurements (by NUTS unless told otherwise) and return its
    posterior.

    The run (initialisation, warmup, sampling) is one compiled function cached per law, noise
    model, settings and (padded) data shape: a second fit of same-shaped data does not
    recompile. Diagnostics (divergences, R-hat, bulk/tail ESS, tree depth, E-BFMI) are checked
    after every fit; failures raise a :class:`ConvergenceWarning` with the remedy and set
    ``Posterior.ok`` to False.

    Args:
        law: A :class:`Law`, e.g. ``bayescale.models.chinchilla``.
        data: A DataFrame with the law's input columns (raw counts) and its target column.
        seed: Seed of the PRNG key; the same seed gives the same draws on the same machine.
        noise: The noise model, a value: ``bs.Normal()`` (Normal on log-loss, the default),
            ``bs.Contaminated()`` (a share of the runs scatters 4x more: robust to bad runs,
            with Normal tails), ``bs.StudentT()`` (robust, heavy-tailed predictive),
            ``bs.Undertrained()``, ``bs.ScaledNormal("N")``, ``bs.Beta()``,
            ``bs.Binomial(n)``, ``bs.BetaBinomial(n)``, or its name (``"normal"``,
            ``"contaminated"``, ``"student_t"``, ...; see :func:`bayescale.noise_of`).
            ``Posterior.noise`` holds the value.
        priors: Replacement priors for sampling-space parameters, e.g.
            ``{"alpha": dist.Uniform(0, 1)}``, or the name of a prior set from published
            fits (``"epoch"``; see ``bayescale.prior_sets()``).
        method: The inference method, a frozen value that carries its settings:
            ``bs.NUTS(num_warmup=2000)``; ``bs.ChEES()`` (ChEES-HMC, chains in lock-step, for
            accelerators and many fits); ``bs.Laplace()``, ``bs.SVI()``, ``bs.MAP()`` (fast
            approximations through optax, ``Posterior.approximate`` is True);
            ``bs.Hoffmann()`` (Hoffmann/Epoch Huber point fit, optional bootstrap). A name
            (``"nuts"``, ``"chees"``, ``"laplace"``, ``"svi"``, ``"map"``, ``"hoffmann"``) is
            the method with its default settings. None (default): ``bs.NUTS()``, the default
            of :func:`bayescale.fit_many` too. ``Posterior.method`` records the name.
        num_chains, num_warmup, num_samples, target_accept_prob, dense_mass, max_tree_depth,
            chain_method, progress: Settings of the method given by name (or of the default
            NUTS), as a shorthand: ``fit(law, df, num_warmup=2000)`` is
            ``fit(law, df, method=bs.NUTS(num_warmup=2000))``. None (default): the method's
            own default. A setting the method does not have is an error (``method="laplace"``
            has no ``num_warmup``), never ignored; beside a method value, which carries its
            own settings, any of them is an error (put it in the value). See :class:`NUTS`:
            ``num_chains`` 4, ``num_warmup`` 1000 and ``num_samples`` 1000 per chain,
            ``target_accept_prob`` 0.9 (it avoids the occasional divergence a dense mass
            matrix shows at 0.8 on these posteriors), ``dense_mass`` True (the posterior is
            strongly correlated), ``max_tree_depth`` 10, ``progress`` (a "compiling" line,
            then a bar whose ETA times sampling alone) False, but True in a Jupyter notebook
            for a default or named NUTS fit.
            ``chain_method``: ``"auto"`` (default): ``"parallel"`` when there are several
            local devices (on CPU, one per core: see ``BAYESCALE_CPU_DEVICES`` in the README),
            else ``"sequential"``. ``"parallel"`` splits the chains over the devices, one after
            another on each; ``"sequential"`` runs them one after another inside one compiled
            program (on CPU it traces, compiles and samples ~2-3x faster than
            ``"vectorized"`` chains, which wait for the deepest tree of any chain);
            ``"split_rows"`` runs them one after another with the rows split over the devices
            (a cross-device sum per gradient: slow on CPU). ``"auto"`` runs the chains in turn
            on one CPU device from 16,384 rows on, where several devices' memory would grow
            with the rows and the steps.
        groups: Name of a group-label column, or a list of several (a group is then each
            combination of their values present in the data, labelled ``"v1|v2"``): fit ``law``
            across groups (:func:`bayescale.hierarchical`; labels become codes ``1..G`` in
            sorted order, the mapping is kept on the grouped law; name a group in forecasts
            with ``group="v1|v2"`` or ``group=("v1", "v2")``). ``priors`` given as a dict
            then name the grouped law's parameters (e.g. ``alpha_tau``); a named prior set
            applies to the base law first.
        pooled, shared, separate, offset, centred: Per-parameter pooling, by sampling-space or
            published name (see :func:`bayescale.hierarchical`), e.g. ``groups="family",
            pooled=["alpha", "beta"], shared=["E"]`` (unnamed parameters are separate);
            ``centred`` names pooled parameters to sample centred (groups with many points), or
            maps a parameter to the group labels to centre (the rest stay non-centred).
        units: Declared units of data columns, multiplied in before the checks: ``{"N": 1e9}``
            when ``N`` holds billions of parameters, ``{"loss": math.log(2)}`` for a loss in
            bits (see :func:`bayescale.validate`).
        dropna: Drop rows with a missing or non-finite value in a column the law reads (the
            drop is reported by a :class:`DataWarning`); by default they are an error.
        drop_duplicates: Drop rows that repeat an earlier row (reported); by default they are
            kept as replicate runs and warned about.
        escalate: When a NUTS fit fails its diagnostics, refit once with
            ``target_accept_prob=0.99`` and twice the warmup and draws, and say so in
            ``Posterior.notes`` (never silently). ``None`` (default): escalate when the
            sampler settings (``num_warmup``, ``num_samples``, ``target_accept_prob``,
            ``max_tree_depth``) are the defaults, keep settings a user chose as they are.
        **options: Further settings of the method given by name, on the same terms, e.g.
            ``num_bootstrap=4000`` for ``"hoffmann"``, ``num_inits=8`` for ``"map"``; for
            NUTS, ``metric_shrinkage="previous"`` shrinks each adapted dense metric towards the
            previous window's metric instead of towards ``1e-3 I`` (Stan's and numpyro's rule,
            the default): scale-free, 2x faster on well-identified data with small, correlated
            scales such as the 240 Chinchilla points, less robust on curved, weakly
            identified posteriors; ``regularize_mass_matrix=False`` turns shrinkage off.

    Returns:
        The :class:`Posterior`.

    Example:
        >>> import bayescale as bs
        >>> from bayescale.models import chinchilla
        >>> data = bs.datasets.load("chinchilla", variant="epoch")
        >>> post = bs.fit(chinchilla, data)
        >>> post.forecast(N=70e9, D=1.4e12)
        >>> longer = bs.fit(chinchilla, data, method=bs.NUTS(num_warmup=2000), seed=0)
        >>> quick = bs.fit(chinchilla, data, method=bs.Laplace())
    """
    if not isinstance(law, Law):
        raise InvalidTypeError(
            f"law must be a bayescale.Law (e.g. bayescale.models.chinchilla), "
            f"got {type(law).__name__}"
        )
    noise = noise_of(noise)
    seed = check_seed(seed)
    named = {
        "num_chains": num_chains,
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "target_accept_prob": target_accept_prob,
        "dense_mass": dense_mass,
        "max_tree_depth": max_tree_depth,
        "chain_method": chain_method,
        "progress": progress,
    }
    # a default or named NUTS fit shows its progress in a notebook
    if progress is None and not isinstance(method, Method) and in_notebook():
        if isinstance(method_of(method), NUTS):
            named["progress"] = True
    # every setting is checked (and one the method lacks rejected) before the data are
    method = method_of(method, **{k: v for k, v in named.items() if v is not None}, **options)
    data_options = {"units": units, "dropna": dropna, "drop_duplicates": drop_duplicates}
    if isinstance(priors, str):  # a named prior set applies to the base law of a grouped fit
        law, priors = apply_priors(law, priors), None
    if groups is not None:  # a grouped fit: labels -> codes, law -> bayescale.hierarchical(law)
        from ._hierarchical import grouped_fit_inputs

        law, data = grouped_fit_inputs(
            law,
            data,
            groups,
            pooled=pooled,
            shared=shared,
            separate=separate,
            offset=offset,
            centred=centred,
        )
    law = apply_priors(law, priors)
    clean = validate_for_law(data, law, **data_options)
    if not isinstance(method, NUTS):  # the others: their runner, jitted (Method.runner)
        from ._many import fit_one

        return fit_one(method, law, clean, seed=seed, noise=noise)
    settings = method
    if settings.chain_method == "auto":
        chains = _resolve_chain_method("auto", settings.num_chains, len(clean))
        settings = dataclasses.replace(settings, chain_method=chains)
    x = {k: clean[k].to_numpy() for k in law.inputs}
    y = clean[law.target].to_numpy()
    if escalate is None:  # escalate the defaults; settings a user chose are kept as chosen
        escalate = all(getattr(settings, k) == getattr(NUTS(), k) for k in _ESCALATED_SETTINGS)
    notes: list[str] = []
    problems: list[str] = []
    steps = _ESCALATION if escalate else ()
    for step in (None, *steps):
        if step is not None:
            settings = step[1](settings)
            notes.append(
                f"the fit failed its diagnostics ({_problem_names(problems)}); refitted with "
                f"{step[0]}"
            )
        key = jax.random.PRNGKey(seed)
        draws, stats = run_nuts(key, law, noise, x, y, settings)
        table = convergence_table(draws)
        problems = check_convergence(
            table, stats, max_tree_depth=settings.max_tree_depth, warn=False
        )
        if not problems:
            break
    if problems:  # warn once, for the fit that is returned; say what data would pin the law
        check_convergence(table, stats, max_tree_depth=settings.max_tree_depth)
        notes += identification_hints(law, draws, clean)
    problems += check_draws(law, noise, draws, stats)  # non-finite draws, priors excluding the data
    if notes and not problems:
        notes.append("the refitted chains passed every diagnostic")
    settings_dict = {k: v for k, v in vars(settings).items() if k != "progress"}
    if notes:
        settings_dict["notes"] = tuple(notes)
    post = Posterior(
        law=law,
        noise=noise,
        data=clean,
        draws=draws,
        stats=stats,
        method=settings.name,
        seed=seed,
        settings=settings_dict,
        problems=tuple(problems),
    )
    from ._compare import ParetoKWarning, influence_note

    note = influence_note(post)  # a check on the model, not the sampler: a note, not a problem
    if note is not None:
        warnings.warn(note, ParetoKWarning, stacklevel=2)
        notes = (*settings_dict.get("notes", ()), note)
        post = dataclasses.replace(post, settings={**settings_dict, "notes": notes})
    return post
