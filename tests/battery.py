"""The battery every catalog law runs through (see tests/test_battery.py).

A family's test cases live in ``tests/cases_<family>.py`` as ``CASES: list[Case]``; the battery
collects every such module and checks each law for: output shapes, finite prior predictive,
finite gradients, agreement of the law's mean with a plain-NumPy reference of its formula, and
parameter recovery on data simulated from the law.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from bayescale import Law


@dataclasses.dataclass(frozen=True)
class Case:
    """One law under test.

    Attributes:
        law: The law.
        truth: Sampling-space parameter values used to simulate data.
        make_inputs: ``make_inputs(rng, n) -> dict`` of input columns (raw units).
        numpy_target: ``numpy_target(truth, x) -> E[y]`` written from the paper's formula in
            plain NumPy, on the target's natural scale (loss, accuracy...).
        noise_sigma: Scale of the simulated noise on the link scale.
        n: Rows to simulate for recovery.
        recover: Sampling-space parameters checked in the recovery test.
        simulate: Optional ``simulate(rng, truth, x) -> y``; default: ``exp(log mean + noise)``.
        fit_kwargs: Extra arguments to ``bayescale.fit`` for the recovery fit.
        id: Test id (defaults to the law's name).
    """

    law: Law
    truth: dict[str, float]
    make_inputs: Callable[[np.random.Generator, int], dict[str, np.ndarray]]
    numpy_target: Callable[[dict[str, float], dict[str, np.ndarray]], np.ndarray]
    noise_sigma: float = 0.02
    n: int = 120
    recover: tuple[str, ...] | None = None
    simulate: Callable | None = None
    fit_kwargs: dict = dataclasses.field(default_factory=dict)
    id: str | None = None

    @property
    def name(self) -> str:
        return self.id or self.law.name

    def dataset(self, seed: int = 0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = self.make_inputs(rng, self.n)
        if self.simulate is not None:
            y = self.simulate(rng, self.truth, x)
        else:
            y = self.numpy_target(self.truth, x) * np.exp(
                self.noise_sigma * rng.standard_normal(self.n)
            )
        return pd.DataFrame({**x, self.law.target: y})
