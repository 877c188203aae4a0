"""Traced samplers kept on disk (``jax.export``), beside the persistent compilation cache.

JAX's compilation cache skips XLA's compile in a new process, but not the tracing and lowering
that come before it: for the default NUTS program (Laplace start, warmup, sampling) those take
~1.3 s on 2 CPU cores, more than the 240-point fit itself (0.1 s). This module keeps the
lowered program (``jax.export.Exported``, serialised StableHLO) in the cache folder, so a new
process deserialises it, and the compilation cache supplies the executable.

Only laws of the catalog (``bayescale.models``, unchanged priors) are stored: their code ships
with the package, whose source files are part of every key. A law written in a notebook is
traced as before, because nothing outside its code objects says it changed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._compiled import CompiledCache
from ._files import write_atomic
from ._law import Law
from ._noise import Noise

__all__ = ["cache_folder", "stored_program"]

_FOLDER = "bayescale-programs"
_LOADED = CompiledCache()


@functools.cache
def _source_digest() -> str:
    """A digest of bayescale's own source files: any change to the library makes new keys."""
    from . import models

    digest = hashlib.sha256()
    for root in sorted({os.path.dirname(__file__), os.path.dirname(models.__file__)}):
        for name in sorted(os.listdir(root)):
            if name.endswith(".py"):
                with open(os.path.join(root, name), "rb") as fh:
                    digest.update(name.encode() + b"\0" + fh.read())
    return digest.hexdigest()


def _is_catalog_law(law: Law) -> bool:
    from . import models

    return getattr(models, law.name, None) is law


def cache_folder(name: str) -> str | None:
    """The folder ``name`` inside the compilation cache's, or None when the cache is off."""
    cache = jax.config.jax_compilation_cache_dir
    return os.path.join(cache, name) if cache else None


def _folder() -> str | None:
    """The stored programs' folder, or None when the compilation cache is off."""
    return cache_folder(_FOLDER)


def _key(law: Law, noise: Noise, settings: Any, args: tuple) -> str:
    import jaxlib

    leaves = jax.tree.leaves(args)
    parts = [
        _source_digest(),
        jax.__version__,
        jaxlib.__version__,
        jax.default_backend(),
        str(len(jax.local_devices())),
        str(jax.config.jax_enable_x64),
        law.name,
        repr(noise),
        repr(dataclasses.astuple(settings)),
        repr([(np.shape(a), str(np.asarray(a).dtype)) for a in leaves]),
        str(jax.tree.structure(args)),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _callable(exported) -> Callable:
    if exported.nr_devices == 1:
        return jax.jit(exported.call)
    mesh = Mesh(np.array(jax.local_devices()[: exported.nr_devices]), ("chain",))
    return jax.jit(exported.call, in_shardings=NamedSharding(mesh, PartitionSpec()))


def stored_program(
    law: Law, noise: Noise, settings: Any, jitted: Callable, args: tuple
) -> Callable | None:
    """``jitted`` as a program stored on disk, ready to call on ``args``; None where programs
    are not stored (the compilation cache is off, a law or noise model outside bayescale, a
    progress bar, whose host callback cannot be serialised, or rows split over devices).

    The first call exports ``jitted`` (tracing it, as a plain call would) and writes it
    atomically; later processes read it. A file that cannot be read is exported again.
    """
    folder = _folder()
    if (
        folder is None
        or getattr(settings, "progress", False)
        or getattr(settings, "chain_method", "") == "split_rows"
        or not _is_catalog_law(law)
        or type(noise).__module__ != Noise.__module__  # its code is not in the digest
    ):
        return None
    try:  # jax.export serialises with flatbuffers (a bayescale dependency; checked anyway)
        import flatbuffers  # noqa: F401
    except ImportError:
        return None
    key = _key(law, noise, settings, args)

    def load_or_export() -> Callable:
        from jax import export

        path = os.path.join(folder, f"{key}.jaxexport")
        try:
            with open(path, "rb") as fh:
                return _callable(export.deserialize(bytearray(fh.read())))
        except Exception:  # noqa: BLE001  absent, truncated or foreign: export it again
            pass
        exported = export.export(jitted)(*args)
        try:
            os.makedirs(folder, exist_ok=True)
            write_atomic(path, exported.serialize(), what="stored program", report=False)
        except (OSError, ValueError):  # check_target refuses a read-only folder: it costs time
            pass
        return _callable(exported)

    return _LOADED.get(key, load_or_export)
