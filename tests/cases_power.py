"""Battery cases for the one-variable power laws (models/_power.py).

The pure power laws are simulated at Kaplan et al. (2020)'s scales with his published constants,
so the battery's recovery test is also the check that they come back from his kind of data.
"""

import numpy as np
from battery import Case
from bayescale.models import (
    hestness_C,
    hestness_D,
    hestness_N,
    power_law_C,
    power_law_D,
    power_law_N,
)
from bayescale.models._power import REFERENCE_SCALES

# Kaplan et al. (2020) eqs. 1.1-1.3: (x_c, alpha); C_c = 3.1e8 PF-days = 3.1e8 * 8.64e19 FLOPs.
KAPLAN = {"N": (8.8e13, 0.076), "D": (5.4e13, 0.095), "C": (3.1e8 * 8.64e19, 0.050)}
# Kaplan's ranges: 768 to 1.5e9 non-embedding parameters, 22M to 23B tokens, 1e-8 to 10 PF-days.
KAPLAN_RANGE = {"N": (1e3, 1.5e9), "D": (2.2e7, 2.3e10), "C": (8.64e11, 8.64e20)}
# Hestness form: Epoch's Chinchilla refit constants per input, at LM-ladder ranges.
HESTNESS = {"N": (1.82, 482.0, 0.35), "D": (1.82, 2085.0, 0.37), "C": (1.82, 1.2e3, 0.17)}
HESTNESS_RANGE = {"N": (7e7, 1.6e10), "D": (5e9, 5e11), "C": (1e18, 1e23)}


def _log_uniform(col, lo, hi):
    def make(rng, n):
        return {col: np.exp(rng.uniform(np.log(lo), np.log(hi), n))}

    return make


def power_truth(col, xc, alpha):
    """Sampling-space values of power_law_<col> for published (x_c, alpha)."""
    return {"log_L0": alpha * np.log(xc / REFERENCE_SCALES[col]), "alpha": alpha}


def _power_numpy(col):
    def target(t, x):
        xc = REFERENCE_SCALES[col] * np.exp(t["log_L0"] / t["alpha"])
        return (xc / x[col]) ** t["alpha"]

    return target


def _hestness_numpy(col):
    def target(t, x):
        a = np.exp(t["log_A0"]) * REFERENCE_SCALES[col] ** t["alpha"]
        return np.exp(t["log_E"]) + a * x[col] ** -t["alpha"]

    return target


CASES = []
for _col, _law in (("N", power_law_N), ("D", power_law_D), ("C", power_law_C)):
    CASES.append(
        Case(
            _law,
            power_truth(_col, *KAPLAN[_col]),
            _log_uniform(_col, *KAPLAN_RANGE[_col]),
            _power_numpy(_col),
            noise_sigma=0.01,
            n=80,
        )
    )
for _col, _law in (("N", hestness_N), ("D", hestness_D), ("C", hestness_C)):
    _e, _a, _alpha = HESTNESS[_col]
    CASES.append(
        Case(
            _law,
            {
                "log_E": np.log(_e),
                "log_A0": np.log(_a) - _alpha * np.log(REFERENCE_SCALES[_col]),
                "alpha": _alpha,
            },
            _log_uniform(_col, *HESTNESS_RANGE[_col]),
            _hestness_numpy(_col),
            noise_sigma=0.01,
            n=80,
            # E trades off against the power law over one input's range: at 500 + 500 draws
            # hestness_D failed a diagnostic at 1 of 6 seeds (target 0.8) and at 2 of 6 (0.95);
            # the fit's own escalation (target 0.99, twice the draws) is its remedy
            fit_kwargs={"escalate": True},
        )
    )
