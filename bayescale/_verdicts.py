"""Verdicts of saved fits, remembered by the machine that computed them.

:func:`bayescale.load` recomputes a fit's verdict from its draws, because a file cannot vouch
for itself. That needs ArviZ's statistics (and SciPy's import) and the priors' moments (a few
small compilations): most of the time of a forecast from a saved fit in a new process. The
verdict is a function of the file's draws, statistics, data and settings and of bayescale's
code alone, so this machine keeps each verdict it computed under a digest of all of them, in
the compilation cache's folder (off with it, ``BAYESCALE_COMPILATION_CACHE=0``). The file
stores nothing that is trusted: a file changed in any value, or read by another version of
bayescale, is diagnosed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

import numpy as np

from ._files import write_atomic
from ._programs import _source_digest, cache_folder

__all__ = ["remember", "remembered", "verdict_key"]

_FOLDER = "bayescale-verdicts"
# The file's attributes a verdict depends on: which law (and priors), noise, method, settings.
_ATTRS = ("law", "noise", "method", "settings", "priors", "grouping", "inputs", "target")


def _update(digest, arrays: Mapping[str, np.ndarray]) -> None:
    for name in sorted(arrays):
        a = np.ascontiguousarray(np.asarray(arrays[name], np.float64))
        digest.update(f"{name}\0{a.shape}\0".encode())
        digest.update(a.tobytes())


def verdict_key(
    attrs: Mapping[str, object],
    draws: Mapping[str, np.ndarray],
    stats: Mapping[str, np.ndarray],
    data: Mapping[str, np.ndarray],
) -> str:
    """A digest of everything a stored fit's verdict depends on (bayescale's code included)."""
    digest = hashlib.sha256(_source_digest().encode())
    digest.update(json.dumps({k: str(attrs.get(k)) for k in _ATTRS}, sort_keys=True).encode())
    for part in (draws, stats, data):
        digest.update(b"\1")
        _update(digest, part)
    return digest.hexdigest()[:32]


def _path(key: str) -> str | None:
    folder = cache_folder(_FOLDER)
    return None if folder is None else os.path.join(folder, f"{key}.json")


def remembered(key: str) -> tuple[str, ...] | None:
    """The verdict this machine computed for ``key``, or None (none kept, or unreadable)."""
    path = _path(key)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            problems = json.load(fh)
    except (OSError, ValueError):
        return None
    if isinstance(problems, list) and all(isinstance(p, str) for p in problems):
        return tuple(problems)
    return None


def remember(key: str, problems: tuple[str, ...]) -> None:
    """Keep the verdict ``problems`` for ``key`` (atomically, and not reported as a file the
    command wrote). A folder that cannot be written (missing, read-only) or a failed write is
    ignored: the verdict is then computed again next time."""
    path = _path(key)
    if path is None:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, json.dumps(list(problems)).encode(), what="verdict", report=False)
    except (OSError, ValueError):  # check_target refuses a read-only folder with a ValueError
        pass
