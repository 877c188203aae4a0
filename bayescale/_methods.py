"""Inference methods as values: frozen settings that check themselves, say whether they are
exact, build their runner and diagnose their draws.

A method is a frozen dataclass (hashable: it keys the caches of compiled programs), passed to
:func:`bayescale.fit` and :func:`bayescale.fit_many` as ``method=bs.NUTS(num_warmup=2000)``, the
way lineax takes ``solver=lx.LU()`` and numpyro's ``MCMC`` takes ``NUTS(model, ...)``. The names
``"nuts"``, ``"chees"``, ``"laplace"``, ``"svi"``, ``"map"`` and ``"hoffmann"`` are aliases
of the methods with their default settings (:data:`METHODS`, :func:`method_of`): the command
line takes them, and a :class:`~bayescale.Posterior` (and its file) records its method by name.

This module imports no JAX: the runners and diagnostics load their modules when first called.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ._errors import InvalidTypeError, InvalidValueError

if TYPE_CHECKING:
    from ._law import Law
    from ._noise import Noise

__all__ = [
    "ChEES",
    "DEFAULT_METHOD",
    "Hoffmann",
    "Laplace",
    "MAP",
    "METHODS",
    "Method",
    "NUTS",
    "SVI",
    "method_of",
]

#: How :class:`NUTS` runs its chains (see :func:`bayescale.fit`).
CHAIN_METHODS = ("auto", "sequential", "vectorized", "parallel", "split_rows")

# Settings that may be 0; every other integer setting must be at least 1, every other real one
# positive.
_MAY_BE_ZERO = frozenset({"num_warmup", "num_bootstrap", "ftol"})


def _is_bool(value: Any) -> bool:
    """A Python or NumPy boolean (without importing NumPy)."""
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _one_of(method: Method, name: str, choices: tuple[str, ...], hint: str = "") -> None:
    value = getattr(method, name)
    if value not in choices:
        raise InvalidValueError(
            f"method {method.name!r}: {name} must be one of {', '.join(map(repr, choices))}, "
            f"got {value!r}{hint}"
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Method:
    """An inference method and its settings (abstract: use :class:`NUTS`, :class:`ChEES`,
    :class:`Laplace`, :class:`SVI`, :class:`MAP` or :class:`Hoffmann`).

    Every setting is checked when the value is made: a wrong type raises ``TypeError`` and a
    value out of range ``ValueError``, each naming the method and the setting. Integer settings
    are at least 1, real ones positive and finite (``num_warmup``, ``num_bootstrap`` and
    ``ftol`` may be 0; ``target_accept_prob`` is below 1); values are stored as Python
    ``bool``, ``int`` and ``float``, so equal settings hash and print alike.

    Attributes:
        name: The method's alias (``"nuts"``, ...), recorded in ``Posterior.method``.
        exact: True for the MCMC samplers, whose draws come from the posterior itself (exactly
            in the limit of many draws, and checked by R-hat, ESS and divergences); False for
            approximations and point fits (``Posterior.approximate``).
        point: True for point fits and their bootstrap (MAP, Hoffmann): their draws are not
            draws of a posterior, so LOO and stacking do not apply to them.
        needed_stats: The sampler statistics its diagnostics read, per draw (a saved fit
            without them cannot be checked in full); none for the approximations, whose
            statistics are one per fit.
    """

    name: ClassVar[str]
    exact: ClassVar[bool]
    point: ClassVar[bool] = False
    needed_stats: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if type(self) is Method:
            raise InvalidTypeError(
                "Method is abstract: use bs.NUTS(), bs.ChEES(), bs.Laplace(), ..."
            )
        for f in dataclasses.fields(self):
            value = self._checked(f.name, getattr(self, f.name), f.default)
            object.__setattr__(self, f.name, value)
        self._check()

    def _checked(self, name: str, value: Any, default: Any) -> Any:
        """``value`` of setting ``name`` checked against its default's type, as a Python
        scalar."""
        where = f"method {self.name!r}: {name}"
        if isinstance(default, bool):
            if not _is_bool(value):
                raise InvalidTypeError(f"{where} must be True or False, got {value!r}")
            return bool(value)
        if isinstance(default, int) or (default is None and name.endswith("_size")):
            if value is None and default is None:
                return None
            if not _is_integer(value):
                raise InvalidTypeError(f"{where} must be an integer, got {value!r}")
            low = 0 if name in _MAY_BE_ZERO else 1
            if value < low:
                raise InvalidValueError(f"{where} must be at least {low}, got {value}")
            return int(value)
        if isinstance(default, float):
            if not _is_real(value):
                raise InvalidTypeError(f"{where} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0 or (value == 0 and name not in _MAY_BE_ZERO):
                raise InvalidValueError(f"{where} must be a positive finite number, got {value}")
            if name == "target_accept_prob" and not value < 1:
                raise InvalidValueError(f"{where} is a probability in (0, 1), got {value}")
            return float(value)
        return value

    def _check(self) -> None:
        """Checks of this method beyond each setting's type and range."""

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The names of this method's settings, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def runner(self, law: Law, noise: Noise) -> Callable:
        """The pure function ``runner(rng_key, x, y, mask) -> (draws, stats)`` of one padded
        dataset (draws shaped ``(chain, draw)``), traceable: :func:`bayescale.fit_many` vmaps
        it over datasets."""
        raise NotImplementedError

    def problems(
        self, draws: Mapping[str, Any], stats: Mapping[str, Any], *, warn: bool = False, table=None
    ) -> list[str]:
        """The diagnostic failures of one fit's draws, each with its remedy: here those of the
        approximations and point fits (non-finite draws, a Hessian at the MAP that is not
        positive definite); the samplers check R-hat, ESS, divergences, tree depth and E-BFMI.

        Args:
            draws: The fit's draws, ``(chain, draw, ...)`` each.
            stats: Its sampler statistics.
            warn: Also raise one :class:`~bayescale.ConvergenceWarning` listing them.
            table: The draws' convergence table, if already computed (MCMC methods).
        """
        import warnings

        import numpy as np

        from ._diagnostics import ConvergenceWarning

        problems = []
        if not all(np.all(np.isfinite(v)) for v in draws.values()):
            problems.append(
                f"method {self.name!r} returned non-finite values. Remedy: use method='nuts'."
            )
        if "hessian_pd" in stats and not np.all(stats["hessian_pd"]):
            problems.append(
                "the Hessian at the MAP is not positive definite: the Laplace approximation is "
                "invalid. Remedy: use method='nuts'."
            )
        if problems and warn:
            warnings.warn("; ".join(problems), ConvergenceWarning, stacklevel=4)
        return problems

    def _for_fit_many(self, platform: str) -> Method:
        """These settings as :func:`bayescale.fit_many` runs them on ``platform``."""
        return self


@dataclasses.dataclass(frozen=True, kw_only=True)
class NUTS(Method):
    """The No-U-Turn sampler (numpyro's kernel), the whole run compiled as one function.

    Attributes:
        num_chains: Independent chains (how they run: ``chain_method``).
        num_warmup: Adaptation steps per chain.
        num_samples: Kept draws per chain.
        target_accept_prob: Step-size target; 0.9 avoids the occasional divergence a dense
            mass matrix shows at 0.8 on these posteriors.
        dense_mass: Adapt a dense mass matrix (the posterior is strongly correlated).
        max_tree_depth: Tree depth limit.
        chain_method: ``"auto"`` (default: chosen by :func:`bayescale.fit` from the local
            devices and the rows; ``"sequential"`` in :func:`bayescale.fit_many`),
            ``"sequential"``, ``"vectorized"``, ``"parallel"`` or ``"split_rows"`` (see
            :func:`bayescale.fit`).
        progress: Show a progress bar while sampling (:func:`bayescale.fit`).
        regularize_mass_matrix: Shrink each adapted metric (False: no shrinkage).
        metric_shrinkage: Shrink each adapted dense metric towards ``1e-3 I`` (``"identity"``,
            Stan's and numpyro's rule, the default) or towards the previous window's metric
            (``"previous"``: scale-free, 2x faster on well-identified data with small,
            correlated scales such as the 240 Chinchilla points, less robust on curved, weakly
            identified posteriors).
        init: ``"laplace"`` (start at the posterior mode found by multi-start L-BFGS and
            sample in coordinates whitened by the Laplace covariance there) or ``"uniform"``
            (numpyro's ``init_to_uniform`` in the raw unconstrained space).
        num_inits: L-BFGS starts of the ``"laplace"`` initialisation.

    Example:
        >>> bs.fit(chinchilla, df, method=bs.NUTS(num_warmup=2000, target_accept_prob=0.95))
    """

    name: ClassVar[str] = "nuts"
    exact: ClassVar[bool] = True
    needed_stats: ClassVar[tuple[str, ...]] = ("diverging", "n_steps", "energy")

    num_chains: int = 4
    num_warmup: int = 1000
    num_samples: int = 1000
    target_accept_prob: float = 0.9
    dense_mass: bool = True
    max_tree_depth: int = 10
    chain_method: str = "auto"
    progress: bool = False
    # Stan (and numpyro) shrink each adapted metric towards 1e-3 * I ("identity", default).
    # Chinchilla's sampling-space variances are 1e-5 to 1e-4 with correlations near 0.99, so that
    # costs ~20 leapfrog steps per draw instead of 6.5 on the 240 Epoch points. "previous"
    # shrinks with the same weights towards the previous window's metric (the sampler re-whitens
    # its coordinates at each window end, so numpyro's 1e-3 * I *is* the previous metric
    # there): scale-free and 2x faster on such data, but in the full test suite it left R-hat
    # 1.012 on BNSL, a divergence on a grouped law and too narrow an interval on a 6-point
    # prior-dominated fit, where Stan's rule passes; so it is an option, not the default.
    regularize_mass_matrix: bool = True
    metric_shrinkage: str = "identity"
    init: str = "laplace"
    num_inits: int = 8

    def _check(self) -> None:
        _one_of(self, "chain_method", CHAIN_METHODS)
        _one_of(self, "metric_shrinkage", ("previous", "identity"))
        _one_of(self, "init", ("laplace", "uniform"))

    def runner(self, law: Law, noise: Noise) -> Callable:
        from ._inference import _compiled_runner

        s = dataclasses.replace(self._on_one_device(), progress=False)
        return _compiled_runner(law, noise, s)

    def problems(self, draws, stats, *, warn=False, table=None) -> list[str]:
        from ._diagnostics import check_convergence, convergence_table

        if table is None:
            table = convergence_table(draws)
        return check_convergence(table, stats, max_tree_depth=self.max_tree_depth, warn=warn)

    def _for_fit_many(self, platform: str) -> Method:
        return self._on_one_device()

    def _on_one_device(self) -> NUTS:
        """These settings with every chain on one device, as a runner runs them (``"auto"``:
        one after another); ``"parallel"`` chains, split over the devices, are refused."""
        if self.chain_method == "parallel":
            raise InvalidValueError(
                "chain_method='parallel' is for fit; fit_many splits its datasets over the "
                "devices and runs each fit's chains 'sequential' (default) or 'vectorized'"
            )
        if self.chain_method == "auto":
            return dataclasses.replace(self, chain_method="sequential")
        return self


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChEES(Method):
    """ChEES-HMC (BlackJAX): many chains in lock-step, for accelerators and many fits at once.

    Attributes:
        num_chains: Chains per fit, advanced in lock-step (ChEES adapts from cross-chain
            statistics: at least 2; more chains adapt better; 8-64 is typical).
        num_warmup: Adaptation steps.
        num_samples: Kept draws per chain.
        target_accept_prob: Target acceptance rate of the step-size adaptation (ChEES paper:
            0.651; 0.9 here, as for NUTS: at 0.75 a few divergences appeared with 4 chains).
        learning_rate: Adam learning rate of the trajectory-length adaptation.
        init_step_size: Initial leapfrog step size (in whitened coordinates, so ~0.5 is sane).
        max_leapfrog_steps: Cap on leapfrog steps per iteration.
        num_inits: L-BFGS starts of the MAP that sets the whitening.
        init_scale: Scale of the initial positions around the MAP, in posterior sds.
        rewhiten: Re-whiten from the chains' draws halfway through warmup.

    Example:
        >>> bs.fit_many(chinchilla, folds, method=bs.ChEES(num_chains=16))
    """

    name: ClassVar[str] = "chees"
    exact: ClassVar[bool] = True
    needed_stats: ClassVar[tuple[str, ...]] = (
        "diverging",
        "n_steps",
        "energy",
        "laplace_whitening",
    )

    num_chains: int = 8
    num_warmup: int = 500
    num_samples: int = 500
    target_accept_prob: float = 0.9
    learning_rate: float = 0.025
    init_step_size: float = 0.5
    max_leapfrog_steps: int = 256
    num_inits: int = 4
    init_scale: float = 1.0
    rewhiten: bool = True

    def _check(self) -> None:
        if self.num_chains < 2:
            raise InvalidValueError(
                "method 'chees' adapts from cross-chain statistics: num_chains >= 2"
            )

    def runner(self, law: Law, noise: Noise) -> Callable:
        from ._lockstep import chees_runner

        return chees_runner(law, noise, self, MAP(num_inits=self.num_inits))

    def problems(self, draws, stats, *, warn=False, table=None) -> list[str]:
        import numpy as np

        from ._diagnostics import check_convergence, convergence_table, warn_not_converged

        if table is None:
            table = convergence_table(draws)
        # n_steps never reaches a tree-depth cap here: pass a depth above max_leapfrog_steps.
        depth = int(math.log2(self.max_leapfrog_steps)) + 2
        problems = check_convergence(table, stats, max_tree_depth=depth, warn=False)
        if not np.all(stats["laplace_whitening"]):
            problems.append(
                "the Hessian at the MAP is not positive definite, so ChEES ran unwhitened. "
                "Remedy: check the law is identifiable on this data, or use method='nuts'."
            )
        if problems and warn:
            warn_not_converged(problems, stacklevel=5)
        return problems


@dataclasses.dataclass(frozen=True, kw_only=True)
class MAP(Method):
    """The posterior mode in unconstrained space by multi-start L-BFGS (optax): one draw.

    Attributes:
        num_inits: Random L-BFGS starts (vmapped); the best optimum is kept.
        max_iter: Most L-BFGS iterations per start.
        tol: Stop when the gradient norm of the potential falls below this.
    """

    name: ClassVar[str] = "map"
    exact: ClassVar[bool] = False
    point: ClassVar[bool] = True

    num_inits: int = 8
    max_iter: int = 1000
    tol: float = 1e-6

    def runner(self, law: Law, noise: Noise) -> Callable:
        from ._approx import map_runner

        return map_runner(law, noise, self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Laplace(Method):
    """The Laplace approximation: a Normal at the MAP with the inverse Hessian as covariance,
    in unconstrained space.

    Attributes:
        num_chains: Leading axis of the returned draws.
        num_samples: Draws per "chain".
        num_inits: Random L-BFGS starts of the MAP.
        max_iter: Most L-BFGS iterations per start.
        tol: Stop when the gradient norm of the potential falls below this.
    """

    name: ClassVar[str] = "laplace"
    exact: ClassVar[bool] = False

    num_chains: int = 4
    num_samples: int = 1000
    num_inits: int = 8
    max_iter: int = 1000
    tol: float = 1e-6

    def runner(self, law: Law, noise: Noise) -> Callable:
        from ._approx import laplace_runner

        return laplace_runner(law, noise, self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SVI(Method):
    """Stochastic variational inference: a full-rank Gaussian guide in unconstrained space
    started at the Laplace approximation, fitted by Adam on the ELBO.

    Attributes:
        num_chains: Leading axis of the returned draws.
        num_samples: Draws per "chain".
        num_inits: Random L-BFGS starts of the MAP the guide starts at.
        max_iter: Most L-BFGS iterations per start.
        tol: Stop when the gradient norm of the potential falls below this.
        svi_steps: Adam steps.
        svi_lr: Initial Adam learning rate (cosine-decayed to 0).
    """

    name: ClassVar[str] = "svi"
    exact: ClassVar[bool] = False

    num_chains: int = 4
    num_samples: int = 1000
    num_inits: int = 8
    max_iter: int = 1000
    tol: float = 1e-6
    svi_steps: int = 2000
    svi_lr: float = 0.002

    def runner(self, law: Law, noise: Noise) -> Callable:
        from ._approx import svi_runner

        return svi_runner(law, noise, self)


_SEARCHES = ("vpnls", "grid")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Hoffmann(Method):
    """The Hoffmann / Epoch point fit of the Chinchilla law (Huber loss on log residuals,
    L-BFGS), optionally bootstrapped: a frequentist sampling distribution, not a posterior.

    Attributes:
        delta: Huber threshold on log residuals (Hoffmann: 1e-3).
        num_bootstrap: Bootstrap replicates (0: the point fit only).
        search: How the starts of the final L-BFGS are found: ``"vpnls"`` (variable
            projection over an ``(alpha, beta)`` grid, the default) or ``"grid"`` (L-BFGS from
            each of Hoffmann's 4500 grid points, the published procedure).
        profile_size: Cells per axis of the ``(alpha, beta)`` grid of ``"vpnls"``.
        profile_iter: IRLS steps of the profiled Huber fit of ``(E, A, B)`` in each cell.
        polish_starts: Starts polished to convergence: the best cells (``"vpnls"``) or the best
            stage-1 optima (``"grid"``).
        bootstrap_starts: L-BFGS starts per bootstrap replicate, the best polished optima of
            the full-data fit (``None``: 1 under ``"vpnls"``, 8 under ``"grid"``).
        grid_iter: Most L-BFGS iterations of each of the 4500 grid starts (``"grid"``, stage 1).
        grid_linesearch_steps: Zoom line-search steps per iteration in stage 1.
        max_iter: Most L-BFGS iterations when polishing and per bootstrap start.
        tol: Gradient-norm stopping tolerance.
        ftol: Stop polishing/bootstrap L-BFGS when an iteration lowers the objective by less
            than ``ftol * max(|f|, 1)`` (scipy L-BFGS-B's rule; 0 disables it).
        reduced_grid: Use every start of Hoffmann's grid (1) or a 1-in-``reduced_grid``
            subsample of it (``"grid"``, for quick screening).
        grid_batch_size: Grid starts advanced together (vmapped) in stage 1 of ``"grid"``, the
            batches one after another. ``None``: 1 on a CPU and all starts at once on an
            accelerator (the full 4500-start fit took 8.5 s one start after another vs 95 s in
            batches of 512 on 2 cores, same optimum).
        batch_size: L-BFGS runs advanced together (vmapped) when polishing and bootstrapping.
            ``None``: 1 on a CPU, one run after another (under ``vmap`` every run of a batch
            waits for the longest line search and the slowest to converge: 256 replicates took
            0.3 s one by one vs 3.5 s in batches of 64 on 2 cores), and all at once on an
            accelerator.

    Raises:
        ValueError: for a ``search`` other than ``"vpnls"`` or ``"grid"``.
    """

    name: ClassVar[str] = "hoffmann"
    exact: ClassVar[bool] = False
    point: ClassVar[bool] = True

    delta: float = 1e-3
    num_bootstrap: int = 0
    search: str = "vpnls"
    profile_size: int = 40
    profile_iter: int = 10
    polish_starts: int = 8
    bootstrap_starts: int | None = None
    grid_iter: int = 100
    grid_linesearch_steps: int = 20
    max_iter: int = 1000
    tol: float = 1e-10
    ftol: float = 0.0
    reduced_grid: int = 1
    grid_batch_size: int | None = None
    batch_size: int | None = None

    def _check(self) -> None:
        _one_of(
            self,
            "search",
            _SEARCHES,
            " ('vpnls' is fast; 'grid' reproduces Hoffmann's 4500-start procedure)",
        )
        if self.bootstrap_starts is not None:
            if not _is_integer(self.bootstrap_starts):
                raise InvalidTypeError(
                    f"method 'hoffmann': bootstrap_starts must be an integer or None, got "
                    f"{self.bootstrap_starts!r}"
                )
            if self.bootstrap_starts < 1:
                raise InvalidValueError(
                    f"method 'hoffmann': bootstrap_starts must be at least 1, got "
                    f"{self.bootstrap_starts}"
                )
            object.__setattr__(self, "bootstrap_starts", int(self.bootstrap_starts))

    def runner(self, law: Law, noise: Noise) -> Callable:
        from ._hoffmann import hoffmann_runner

        return hoffmann_runner(law, noise, self)

    def _for_fit_many(self, platform: str) -> Method:
        if self.grid_batch_size is not None:
            return self
        from ._hoffmann import default_grid_batch_size

        # Batch the grid for the devices the fits run on, not the default backend.
        return dataclasses.replace(self, grid_batch_size=default_grid_batch_size(platform, self))


#: The methods by alias: ``method="laplace"`` is ``method=bs.Laplace()``.
METHODS: dict[str, type[Method]] = {
    cls.name: cls for cls in (NUTS, ChEES, Laplace, SVI, MAP, Hoffmann)
}

#: The method of :func:`bayescale.fit` and :func:`bayescale.fit_many` when none is given.
DEFAULT_METHOD: Method = NUTS()


def method_of(method: Method | str | None = None, /, **options: Any) -> Method:
    """The method value that ``method`` names, with ``options`` set.

    Args:
        method: A method value (``bs.NUTS(num_warmup=2000)``), an alias (``"nuts"``,
            ``"chees"``, ``"laplace"``, ``"svi"``, ``"map"``, ``"hoffmann"``: the method with
            its default settings) or None (:data:`DEFAULT_METHOD`).
        **options: Settings of an alias's method (or the default's), e.g. ``num_warmup=2000``.
            A method value carries its own settings, so options beside one are an error.

    Returns:
        The :class:`Method`.

    Raises:
        ValueError: for an unknown alias, or a setting out of range.
        TypeError: for a setting the method does not have (naming the method's settings), a
            setting of the wrong type, options beside a method value, or a ``method`` that is
            neither a method value nor an alias.

    Example:
        >>> method_of("laplace", num_samples=200) == bs.Laplace(num_samples=200)
        True
    """
    if isinstance(method, Method):
        if options:
            cls = type(method).__name__
            shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
            raise InvalidTypeError(
                f"{shown} given beside method={cls}(...): a method value carries its own "
                f"settings; put them in it, e.g. method=bs.{cls}({shown})"
            )
        return method
    if method is None:
        return _with_options(DEFAULT_METHOD, options)
    if isinstance(method, type) and issubclass(method, Method):
        raise InvalidTypeError(
            f"method must be a method value, e.g. method=bs.{method.__name__}(), not the class"
        )
    if not isinstance(method, str):
        raise InvalidTypeError(
            f"method must be a method value (bs.NUTS(), bs.ChEES(), bs.Laplace(), bs.SVI(), "
            f"bs.MAP(), bs.Hoffmann()) or its name, got {type(method).__name__}"
        )
    if method not in METHODS:
        raise InvalidValueError(f"unknown method {method!r}; available: {sorted(METHODS)}")
    return _with_options(METHODS[method](), options)


def recorded_method(name: str, settings: Mapping[str, Any]) -> Method:
    """The method value a fit recorded: its alias (``Posterior.method``) with the settings
    among ``settings`` (``Posterior.settings``) that are the method's; other keys (``notes``,
    ``fit_many_index``, ...) are left out.

    Raises:
        ValueError: for an unknown alias, or a setting out of range.
        TypeError: for a setting of the wrong type.
    """
    cls = METHODS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidValueError(f"unknown method {name!r}")
    names = cls.option_names()
    return cls(**{k: v for k, v in settings.items() if k in names})


def _with_options(method: Method, options: Mapping[str, Any]) -> Method:
    """``method`` with ``options`` replaced; a setting it does not have is an error."""
    if not options:
        return method
    names = method.option_names()
    unknown = [k for k in options if k not in names]
    if unknown:
        shown = ", ".join(map(repr, unknown))
        raise InvalidTypeError(
            f"method {method.name!r} (bs.{type(method).__name__}) has no option {shown}; "
            f"its options are {', '.join(names)}"
        )
    return dataclasses.replace(method, **options)
