"""Many fits in one compiled call, sharded over the local devices; compile cache.

Every inference method is a pure function ``runner(rng_key, x, y, mask) -> (draws, stats)`` of
one padded dataset (draws shaped ``(chain, draw)``). :func:`fit_many` pads all datasets to one
row count (a multiple of 32; padded rows are masked out of the likelihood), stacks them, and
runs one compiled program: the dataset axis is split over all local devices (``jax.shard_map``
on a 1-D ``Mesh`` named ``"data"``), and each device vmaps the runner over its datasets (GPU,
TPU: lock-step) or maps over them one at a time (CPU, ``lax.map``). The same code runs on a
laptop CPU, one GPU or eight; compiled functions are cached per (method, law, noise, settings,
devices, batch size), so a second call with same-shaped data does not retrace
(:data:`TRACE_COUNT` counts traces).

Several hosts: start every process with ``jax.distributed.initialize()`` (coordinator address,
process count and id from the cluster environment, e.g. SLURM) before calling
:func:`fit_many`, pass ``devices=jax.devices()`` (all devices of all hosts) and give every host
the same list of datasets; the dataset axis is then sharded across hosts, and each host gets
back every fit (the outputs are gathered). On one host the default ``jax.local_devices()`` is
right. To use several CPU cores as devices, set
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX is imported.

The persistent compilation cache (:func:`enable_compilation_cache`) keeps compiled programs on
disk, so a new Python process skips the 10-60 s compile of a sampler it has compiled before.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._compiled import CompiledCache
from ._data import DataError, DataWarning, check_seed, validate_for_law
from ._diagnostics import ConvergenceWarning, convergence_tables
from ._errors import InvalidTypeError, InvalidValueError
from ._inference import _ROW_BUCKET
from ._law import Law
from ._methods import Method, method_of
from ._noise import Noise, noise_of
from ._posterior import Posterior
from ._priors import apply_priors

__all__ = [
    "TRACE_COUNT",
    "enable_compilation_cache",
    "fit_many",
    "fit_one",
    "jitted_runner",
]

#: Number of times each method's runner has been traced (compiled) in this process.
TRACE_COUNT: collections.Counter[str] = collections.Counter()

_PROGRAMS = CompiledCache()


# The persistent compilation cache's size on disk: a finite size makes JAX lock the folder, so
# concurrent processes are safe; least recently used programs are evicted first.
_DEFAULT_CACHE_BYTES = 2 * 1024**3


def enable_compilation_cache(
    path: str | os.PathLike,
    *,
    min_compile_time_s: float = 1.0,
    max_size_bytes: int = _DEFAULT_CACHE_BYTES,
) -> None:
    """Keep compiled programs on disk at ``path`` so new processes skip recompilation.

    Args:
        path: A directory (created if missing; ``~`` is expanded); reuse the same one across
            sessions. Several processes may share it at once.
        min_compile_time_s: Only programs that took at least this long to compile are stored.
        max_size_bytes: Most bytes kept on disk (least recently used programs go first).
    """
    path = os.path.expanduser(os.fspath(path))
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", int(max_size_bytes))


def default_compilation_cache_dir() -> str | None:
    """The folder of the compilation cache turned on at first use, or None when switched off.

    On by default, at ``$XDG_CACHE_HOME/bayescale/jax`` (``~/.cache/bayescale/jax``), so a new
    process loads the samplers it compiled before instead of compiling them again;
    ``BAYESCALE_COMPILATION_CACHE=0`` (or ``off``) switches it off, any other value but
    ``1``/``on`` is the folder.
    """
    setting = os.environ.get("BAYESCALE_COMPILATION_CACHE", "").strip()
    # On by default: the test suite runs with it on (two processes sharing one folder,
    # thousands of programs); an abort inside JAX while writing to it, seen once before the
    # suite released its compiled programs after each module, has not recurred since.
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    if not setting or setting.lower() in ("1", "on", "true", "yes"):
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "bayescale", "jax")
    return os.path.expanduser(setting)


def use_default_compilation_cache() -> str | None:
    """Turn on the persistent compilation cache at :func:`default_compilation_cache_dir`
    unless switched off or already configured; returns the folder in use (None: no cache).

    A new process then loads compiled samplers from disk instead of recompiling them (the CLI
    and every script's first fit). A folder that cannot be created leaves the cache off: it
    only saves time.
    """
    current = jax.config.jax_compilation_cache_dir
    if current:
        return current
    path = default_compilation_cache_dir()
    if path is None:
        return None
    try:
        enable_compilation_cache(path)
    except OSError:
        return None
    return path


def _counted(method: str, runner: Callable) -> Callable:
    def run(rng_key, x, y, mask):
        TRACE_COUNT[method] += 1  # Python side effect: runs once per trace, not per call
        return runner(rng_key, x, y, mask)

    return run


def jitted_runner(method: Method, law: Law, noise: Noise) -> Callable:
    """The jitted runner of ``method`` (:meth:`Method.runner`) on one dataset (cached).

    Args:
        method: The inference method and its settings.
        law: The law to fit.
        noise: The noise model.

    Returns:
        ``runner(rng_key, x, y, mask) -> (draws, stats)``, compiled once per method, law,
        noise and padded shape.
    """
    return _PROGRAMS.get(
        ("single", method.name, law, noise, method),
        lambda: jax.jit(_counted(method.name, method.runner(law, noise))),
    )


def _batched(
    law: Law, noise: Noise, method: Method, devices: tuple, batch_size: int | None
) -> Callable:

    def build():
        one = _counted(method.name, method.runner(law, noise))

        def local(keys, xs, ys, masks):  # the datasets on one device
            if batch_size is None:
                return jax.vmap(one)(keys, xs, ys, masks)
            return lax.map(lambda args: one(*args), (keys, xs, ys, masks), batch_size=batch_size)

        mesh = Mesh(np.array(devices), ("data",))
        spec = PartitionSpec("data")
        fn = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
        return jax.jit(fn), NamedSharding(mesh, spec)

    return _PROGRAMS.get(("many", method.name, law, noise, method, devices, batch_size), build)


def _to_numpy(tree):
    return {k: np.asarray(v) for k, v in tree.items()}


def _warn_data(warned: dict[int, list[str]], k: int) -> None:
    """One DataWarning for all datasets (1000 bootstrap replicates all repeat rows)."""
    first = next(iter(warned))
    shown = sorted(warned)[:10]
    more = f" and {len(warned) - 10} more" if len(warned) > 10 else ""
    warnings.warn(
        f"{len(warned)} of {k} datasets raised data warnings (datasets {shown}{more}); "
        f"dataset {first}: " + " ".join(warned[first]),
        DataWarning,
        stacklevel=3,
    )


def fit_one(
    method: Method,
    law: Law,
    clean: pd.DataFrame,
    *,
    seed: int,
    noise: Noise,
) -> Posterior:
    """Run ``method`` through its jitted runner on validated data (:func:`bayescale.fit` for
    the methods other than NUTS)."""
    from ._inference import pad_rows

    x = {k: clean[k].to_numpy() for k in law.inputs}
    xp, yp, mask = pad_rows(x, clean[law.target].to_numpy(np.float64))
    key = jax.random.PRNGKey(check_seed(seed))
    draws, stats = jitted_runner(method, law, noise)(key, xp, yp, mask)
    draws, stats = _to_numpy(draws), _to_numpy(stats)
    problems = method.problems(draws, stats, warn=True)
    return Posterior(
        law=law,
        noise=noise,
        data=clean,
        draws=draws,
        stats=stats,
        method=method.name,
        seed=seed,
        settings={k: v for k, v in dataclasses.asdict(method).items() if k != "progress"},
        problems=tuple(problems),
    )


def fit_many(
    law: Law,
    datasets: Sequence[pd.DataFrame],
    *,
    method: Method | str | None = None,
    seed: int = 0,
    noise: Noise | str = "normal",
    priors: Mapping[str, dist.Distribution] | str | None = None,
    devices: Sequence[jax.Device] | None = None,
    batch_size: int | None = None,
    units: Mapping[str, float] | None = None,
    dropna: bool = False,
    drop_duplicates: bool = False,
    **options: Any,
) -> list[Posterior]:
    """Fit one law to many datasets in one compiled call, sharded over devices.

    Bootstrap replicates, leave-future-out folds, sensitivity sweeps, the groups of a study:
    datasets may differ in length (rows are padded to a common multiple of 32 and masked). The
    dataset axis is vmapped and sharded over ``devices`` with ``jax.sharding``; the number of
    datasets is padded up to a multiple of the device count (padding fits are discarded). The
    compiled function is cached per (method, law, noise, settings, devices) and padded shape:
    calling again with same-shaped data does not recompile.

    Args:
        law: The law to fit.
        datasets: DataFrames with the law's input and target columns.
        method: The inference method, as in :func:`bayescale.fit`: a method value
            (``bs.ChEES(num_chains=16)``, ``bs.NUTS()``, ``bs.Laplace()``, ``bs.MAP()``,
            ``bs.SVI()``, ``bs.Hoffmann()``) or its name (``"chees"``, ...). None (default):
            ``bs.NUTS()`` with its default settings (``DEFAULT_METHOD``), the same default as
            :func:`bayescale.fit`, so that a fit and the same fit among many agree. On a CPU
            (one dataset after another) NUTS costs about what ChEES does (4 bootstrap
            replicates of the 240 Chinchilla points, 2 cores: 42 s and 45 s with compilation,
            refits 1.8 s and 0.8 s); on a GPU, where the datasets advance in lock-step, pass
            ``method=bs.ChEES()``: its chains take the same number of leapfrog steps, where
            vmapped NUTS waits for the deepest tree of any fit.
        seed: Dataset ``i`` uses ``jax.random.fold_in(PRNGKey(seed), i)``.
        noise: The noise model, a :class:`~bayescale.Noise` or its name (as in
            :func:`bayescale.fit`).
        priors: Replacement priors or the name of a prior set, as in :func:`bayescale.fit`.
        devices: Devices to shard over (default ``jax.local_devices()``; with
            ``jax.distributed`` pass ``jax.devices()``).
        batch_size: Datasets each device advances together (vmapped, in lock-step); the
            rest of its datasets follow in a ``lax.map``. Default: all of them on a GPU or
            TPU; 1 on a CPU, where lock-step buys nothing: every fit of a batch waits for the
            longest trajectory of any, and a large batch leaves the caches (ChEES, Chinchilla
            bootstrap replicates, 2 cores, a test run beside: K = 100 in 34.8 s one at a time
            vs 40.0 s all vmapped; K = 1000 vmapped 0.86 s per fit, against 0.35-0.41 s at
            K <= 100).
        units, dropna, drop_duplicates: Applied to every dataset, as in :func:`bayescale.fit`.
        **options: Settings of the method named by ``method`` (or of the default), e.g.
            ``num_chains=8``, ``num_warmup=500`` for ``"chees"``; ``num_bootstrap=200`` for
            ``"hoffmann"``. A setting the method does not have is an error, and so are options
            beside a method value (which carries its own settings).

    Returns:
        One :class:`Posterior` per dataset, in order. Failed diagnostics are listed in each
        ``Posterior.problems``; one :class:`ConvergenceWarning` says how many fits failed.

    Example:
        >>> import bayescale as bs
        >>> from bayescale.models import chinchilla
        >>> df = bs.datasets.load("chinchilla", variant="epoch")
        >>> folds = [df[df.N < q] for q in (1e9, 3e9, 1e10)]
        >>> posts = bs.fit_many(chinchilla, folds, seed=0)
        >>> posts = bs.fit_many(chinchilla, folds, method=bs.ChEES(num_chains=16))  # GPU
    """
    if not isinstance(law, Law):
        raise InvalidTypeError(f"law must be a bayescale.Law, got {type(law).__name__}")
    noise = noise_of(noise)
    if isinstance(datasets, pd.DataFrame) or not len(datasets):
        raise DataError("datasets must be a non-empty list of DataFrames")
    method = method_of(method, **options)
    devices = tuple(devices if devices is not None else jax.local_devices())
    method = method._for_fit_many(devices[0].platform)
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidValueError(
            f"batch_size must be a positive integer or None, got {batch_size!r}"
        )
    law = apply_priors(law, priors)
    clean = []
    warned: dict[int, list[str]] = {}
    for i, df in enumerate(datasets):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataWarning)
            try:
                clean.append(
                    validate_for_law(
                        df, law, units=units, dropna=dropna, drop_duplicates=drop_duplicates
                    )
                )
            except DataError as err:
                raise err.within(f"dataset {i}: ") from None
        for w in caught:
            if issubclass(w.category, DataWarning):
                warned.setdefault(i, []).append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if warned:
        _warn_data(warned, len(datasets))
    n_dev = len(devices)
    k = len(clean)
    k_pad = -(-k // n_dev) * n_dev
    m = -(-max(len(c) for c in clean) // _ROW_BUCKET) * _ROW_BUCKET
    xs = {name: np.empty((k_pad, m)) for name in law.inputs}
    ys = np.empty((k_pad, m))
    masks = np.zeros((k_pad, m), dtype=bool)
    for i in range(k_pad):
        c = clean[i] if i < k else clean[0]
        n = len(c)
        idx = np.concatenate([np.arange(n), np.zeros(m - n, dtype=int)])
        for name in law.inputs:
            xs[name][i] = c[name].to_numpy(np.float64)[idx]
        ys[i] = c[law.target].to_numpy(np.float64)[idx]
        masks[i, :n] = True
    base = jax.random.PRNGKey(check_seed(seed))
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(k_pad))
    if batch_size is None and devices[0].platform == "cpu":
        batch_size = 1
    fn, shard = _batched(law, noise, method, devices, batch_size)
    args = jax.device_put((keys, xs, ys, masks), shard)
    draws, stats = fn(*args)
    # Diagnose all fits in one batched call where the draws are (the GPU, for a GPU run).
    tables = convergence_tables(draws) if method.exact else [None] * k_pad
    draws, stats = _to_numpy(draws), _to_numpy(stats)
    settings_dict = {k: v for k, v in dataclasses.asdict(method).items() if k != "progress"}
    out = []
    failed = 0
    for i in range(k):
        d = {name: v[i] for name, v in draws.items()}
        st = {name: v[i] for name, v in stats.items()}
        problems = method.problems(d, st, warn=False, table=tables[i])
        failed += bool(problems)
        out.append(
            Posterior(
                law=law,
                noise=noise,
                data=clean[i],
                draws=d,
                stats=st,
                method=method.name,
                seed=seed,
                settings={**settings_dict, "fit_many_index": i},
                problems=tuple(problems),
            )
        )
    if failed:
        warnings.warn(
            f"{failed} of {k} fits failed their diagnostics; see Posterior.problems of each.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return out
