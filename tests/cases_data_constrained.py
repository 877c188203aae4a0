"""Battery cases: tied-exponent Chinchilla and the data-constrained law (Muennighoff 2023)."""

import numpy as np
from battery import Case
from bayescale.models import chinchilla_tied, data_constrained
from bayescale.models._chinchilla import D0, N0

# The datablations README constants (fit on all runs), in sampling space.
_A = 0.3526596
TRUTH_DC = {
    "log_E": 0.6254804,
    "log_A0": 6.255414 - _A * np.log(N0),
    "log_B0": 7.3049974 - _A * np.log(D0),
    "alpha": _A,
    "log_R_D_star": np.log(15.387756),
    "log_R_N_star": np.log(5.309743),
}
# The notebook's tied fit on the 62 runs with <= 2.5 epochs.
TRUTH_TIED = {
    "log_E": 0.6399,
    "log_A0": 6.4526 - 0.3595 * np.log(N0),
    "log_B0": 8.0230 - 0.3595 * np.log(D0),
    "alpha": 0.3595,
}


def _published(t):
    a = t["alpha"]
    return (
        np.exp(t["log_E"]),
        np.exp(t["log_A0"] + a * np.log(N0)),
        np.exp(t["log_B0"] + a * np.log(D0)),
        a,
    )


def _numpy_tied(t, x):
    E, A, B, a = _published(t)
    return E + A / x["N"] ** a + B / x["D"] ** a


def _numpy_dc(t, x):
    """The datablations README's scaling_law(N, D, U), row by row in plain NumPy."""
    E, A, B, alpha = _published(t)
    beta = alpha
    rd_star, rn_star = np.exp(t["log_R_D_star"]), np.exp(t["log_R_N_star"])
    G = ((alpha * A) / (beta * B)) ** (1 / (alpha + beta))
    out = []
    for N, D, U in zip(x["N"], x["D"], x["U"], strict=True):
        UN = min(N, (U * G) ** (beta / alpha) * G)
        RN = max((N / UN) - 1, 0)
        RD = max((D / U) - 1, 0)
        out.append(
            E
            + A / (UN + UN * rn_star * (1 - np.exp(-1 * RN / rn_star))) ** alpha
            + B / (U + U * rd_star * (1 - np.exp(-1 * RD / rd_star))) ** beta
        )
    return np.array(out)


def _inputs_tied(rng, n):
    return {
        "N": np.exp(rng.uniform(np.log(1e7), np.log(9e9), n)),
        "D": np.exp(rng.uniform(np.log(1e8), np.log(2e11), n)),
    }


def _inputs_dc(rng, n):
    # The datablations design: unique budgets 1e8..2e10 tokens, 1..500 epochs, 7M..9B params.
    u = np.exp(rng.uniform(np.log(1e8), np.log(2e10), n))
    epochs = np.exp(rng.uniform(0.0, np.log(500.0), n))
    return {
        "N": np.exp(rng.uniform(np.log(7e6), np.log(9e9), n)),
        "D": u * epochs,
        "U": u,
    }


CASES = [
    Case(chinchilla_tied, TRUTH_TIED, _inputs_tied, _numpy_tied, noise_sigma=0.02, n=100),
    Case(data_constrained, TRUTH_DC, _inputs_dc, _numpy_dc, noise_sigma=0.02, n=200),
]
