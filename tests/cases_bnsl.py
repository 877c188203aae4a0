"""Battery case for the broken power law (models/_bnsl.py): one break inside the data range."""

import numpy as np
from battery import Case
from bayescale.models import bnsl_1
from bayescale.models._power import REFERENCE_SCALES

D0 = REFERENCE_SCALES["D"]
# Floor 1.8 nats, slope 0.1 bending to 0.6 at 2e10 tokens over ~half an e-fold.
TRUTH = {
    "log_a": np.log(1.8),
    "log_b0": np.log(0.8),
    "c0": 0.1,
    "c1": 0.5,
    "log_d1": 0.0,
    "log_f1": np.log(0.5),
}


def _inputs(rng, n):
    return {"D": np.exp(rng.uniform(np.log(1e8), np.log(4e12), n))}


def bnsl_numpy(t, x, x0=D0):
    """Caballero et al. (2023) eq. 1 with one break, written from the paper."""
    d, f, c0, c1 = x0 * np.exp(t["log_d1"]), np.exp(t["log_f1"]), t["c0"], t["c1"]
    # b from the centring: reducible part at x0 equals exp(log_b0).
    b = np.exp(t["log_b0"]) * x0**c0 * (1 + (x0 / d) ** (1 / f)) ** (c1 * f)
    return np.exp(t["log_a"]) + b * x["D"] ** -c0 * (1 + (x["D"] / d) ** (1 / f)) ** (-c1 * f)


CASES = [Case(bnsl_1, TRUTH, _inputs, bnsl_numpy, noise_sigma=0.01, n=120)]
