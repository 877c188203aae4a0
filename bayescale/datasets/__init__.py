"""Bundled real scaling-law measurements, loadable by name.

Each dataset ships with the PROVENANCE file of its source (paper, repository, licence, units) and
reaches the user as a pandas DataFrame in raw counts; ``df.attrs`` carries the provenance, the
citation and the published reference fit that the tests check.

Example:
    >>> import bayescale as bs
    >>> df = bs.datasets.load("chinchilla")            # all 245 digitised points
    >>> df = bs.datasets.load("chinchilla", variant="epoch")  # Epoch's 240-point subset
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["load", "names", "provenance"]


def _read(folder: str, filename: str) -> pd.DataFrame:
    path = resources.files(__name__).joinpath("_data", folder, filename)
    with path.open("r") as fh:
        return pd.read_csv(fh)


def provenance(name: str) -> str:
    """The PROVENANCE text of a bundled dataset."""
    folder = _REGISTRY[_check(name)]["folder"]
    return resources.files(__name__).joinpath("_data", folder, "PROVENANCE.txt").read_text()


def _chinchilla(variant: str | None) -> pd.DataFrame:
    raw = _read("chinchilla", "svg_extracted_data.csv")
    n = raw["Model Size"].to_numpy(np.float64)
    c = raw["Training FLOP"].to_numpy(np.float64)
    df = pd.DataFrame({"N": n, "D": c / (6.0 * n), "C": c, "loss": raw["loss"].to_numpy()})
    df.attrs["dropped"] = "none"
    if variant == "epoch":
        drop = df["loss"].nlargest(5).index
        df = df.drop(drop)
        df.attrs["dropped"] = (
            f"the 5 highest-loss points (rows {list(drop)}), as Besiroglu et al. (2024) did"
        )
    elif variant is not None:
        raise ValueError(
            f"chinchilla has variants None (all 245 rows) and 'epoch'; got {variant!r}"
        )
    return df


_REGISTRY: dict[str, dict] = {
    "chinchilla": {
        "folder": "chinchilla",
        "loader": _chinchilla,
        "description": "Hoffmann et al. (2022) Fig. 4 points digitised by Epoch AI: N, "
        "D=C/(6N), C, "
        "final training loss (nats/token). 245 rows; variant='epoch' drops the 5 highest-loss.",
        "citation": "Hoffmann et al. (2022), arXiv:2203.15556; Besiroglu et al. (2024), "
        "arXiv:2404.10102 (digitisation); distributed in IBM/ColPret (MIT).",
        # Epoch's refit: point estimate and 95% bootstrap interval (PROVENANCE.txt).
        "reference": {
            "E": (1.817, 1.769, 1.871),
            "A": (482.01, 285.2, 743.6),
            "B": (2085.43, 1042.4, 5810.3),
            "alpha": (0.348, 0.317, 0.373),
            "beta": (0.366, 0.331, 0.415),
        },
    },
}


def _check(name: str) -> str:
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; bundled datasets: {names()}")
    return name


def register(
    name: str,
    folder: str,
    loader: Callable[[str | None], pd.DataFrame],
    *,
    description: str,
    citation: str,
    reference: dict | None = None,
) -> None:
    """Add a bundled dataset (used by the catalog modules that ship their own data)."""
    _REGISTRY[name] = {
        "folder": folder,
        "loader": loader,
        "description": description,
        "citation": citation,
        "reference": reference or {},
    }


def names() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(_REGISTRY)


def load(name: str, *, variant: str | None = None) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame of raw counts.

    Args:
        name: One of :func:`names`.
        variant: A documented subset (e.g. ``"epoch"`` for Chinchilla's 240 points).

    Returns:
        The table; ``attrs`` holds ``name``, ``description``, ``citation``, ``provenance``,
        ``reference`` (published fit) and ``dropped`` (which rows a variant removed).
    """
    entry = _REGISTRY[_check(name)]
    df = entry["loader"](variant)
    df.attrs.update(
        name=name,
        description=entry["description"],
        citation=entry["citation"],
        provenance=provenance(name),
        reference=entry["reference"],
    )
    return df
