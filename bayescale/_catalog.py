"""The catalog table: every law in ``bayescale.models``."""

from __future__ import annotations

import pandas as pd

from ._law import Law

__all__ = ["laws"]


def laws() -> pd.DataFrame:
    """The law catalog: one row per law, indexed by name.

    Returns:
        A DataFrame with columns ``formula``, ``inputs``, ``parameters`` and ``reference``;
        every index entry imports as ``from bayescale.models import <name>``.
    """
    from . import models

    rows = {}
    for name in models.__all__:
        law = getattr(models, name)
        if isinstance(law, Law):
            rows[name] = law.describe()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "law"
    return table
