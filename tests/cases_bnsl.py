"""Battery case for the broken power law (models/_bnsl.py): one break inside the data range."""

import numpy as np
from battery import Case
from bayescale.models import bnsl_1
from bayescale.models._power import REFERENCE_SCALES

D0 = REFERENCE_SCALES["D"]
# Floor 1.8 nats, slope 0.1 bending to 0.6 at 2e10 tokens over ~half an e-fold.
A, B0 = 1.8, 0.8  # floor and reducible part at D0 (nats)
TRUTH = {
    "log_y0": np.log(A + B0),
    "floor": np.log(A / B0),  # logit of the floor share A / (A + B0)
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
    # a, b from the centring: y(x0) = exp(log_y0), a = sigmoid(floor) y(x0).
    y0, share = np.exp(t["log_y0"]), 1 / (1 + np.exp(-t["floor"]))
    a = share * y0
    b = (1 - share) * y0 * x0**c0 * (1 + (x0 / d) ** (1 / f)) ** (c1 * f)
    return a + b * x["D"] ** -c0 * (1 + (x["D"] / d) ** (1 / f)) ** (-c1 * f)


# The break makes a curved posterior: at the battery's 500 + 500 and target 0.9 a divergence, low
# ESS or R-hat > 1.01 came up in 2 of 8 seeds, 4 of 8 at 0.95. Started at the mode, 1000 + 1000
# at 0.95 still diverged once or more at 4 of 4 seeds; at 0.99, none of 4 (2026-12-02).
CASES = [
    Case(
        bnsl_1,
        TRUTH,
        _inputs,
        bnsl_numpy,
        noise_sigma=0.01,
        n=120,
        fit_kwargs={"target_accept_prob": 0.99, "num_warmup": 1000, "num_samples": 1000},
    )
]
