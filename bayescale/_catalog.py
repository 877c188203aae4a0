"""The catalog table: every law in ``bayescale.models``.

The table is read from :mod:`bayescale._catalog_table`, a plain-Python copy of what each law
of ``bayescale.models`` says about itself (:meth:`bayescale.Law.describe`), so listing the
catalog (``bs.laws()``, ``bayescale laws``) imports neither JAX nor NumPyro. The laws stay the
one place the text is written: :func:`generate_table` writes the copy from them
(``python -m bayescale._catalog``), and the test suite fails when the two differ.
"""

from __future__ import annotations

import os
import pprint
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["laws", "catalog_rows", "live_rows", "generate_table"]

_TABLE_MODULE = "_catalog_table.py"


def laws() -> pd.DataFrame:
    """The law catalog: one row per law, indexed by name.

    Returns:
        A DataFrame with columns ``formula``, ``inputs``, ``parameters`` and ``reference``;
        every index entry imports as ``from bayescale.models import <name>``.
    """
    import pandas as pd

    table = pd.DataFrame.from_dict(catalog_rows(), orient="index")
    table.index.name = "law"
    return table


def catalog_rows() -> dict[str, dict[str, str]]:
    """The catalog as stored: law name -> its row, in catalog order (no JAX import).

    Returns:
        ``{name: {"formula", "inputs", "parameters", "reference"}}``, a fresh copy.
    """
    from ._catalog_table import ROWS

    return {name: dict(row) for name, row in ROWS.items()}


def live_rows() -> dict[str, dict[str, str]]:
    """The catalog as the laws of ``bayescale.models`` describe themselves (imports JAX).

    Returns:
        ``{name: law.describe()}`` for each law listed in ``bayescale.models.__all__``, in
        that order (aliases such as ``kaplan_N`` are not listed there, so not twice here).
    """
    from . import models
    from ._law import Law

    return {
        name: getattr(models, name).describe()
        for name in models.__all__
        if isinstance(getattr(models, name), Law)
    }


def generate_table() -> str:
    """The source of :mod:`bayescale._catalog_table`, from :func:`live_rows`."""
    body = pprint.pformat(live_rows(), width=96, sort_dicts=False)
    return (
        '"""The law catalog as ``bayescale.models`` describes it, for listing it without JAX.\n\n'
        "Generated from the laws by ``python -m bayescale._catalog``: do not edit by hand (a\n"
        'test compares it with the laws).\n"""\n\n'
        f"ROWS: dict[str, dict[str, str]] = {body}\n"
    )


if __name__ == "__main__":  # pragma: no cover
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), _TABLE_MODULE)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(generate_table())
    print(f"wrote {path} (format it: ruff format {path})", file=sys.stderr)
