import numpy as np
from battery import Case
from bayescale.models import chinchilla
from bayescale.models._chinchilla import D0, N0

# Epoch's refit of the Chinchilla points, in sampling space.
TRUTH = {
    "log_E": np.log(1.82),
    "alpha": 0.35,
    "beta": 0.37,
    "log_A0": np.log(482.0) - 0.35 * np.log(N0),
    "log_B0": np.log(2085.0) - 0.37 * np.log(D0),
}


def _inputs(rng, n):
    return {
        "N": np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n)),
        "D": np.exp(rng.uniform(np.log(5e9), np.log(5e11), n)),
    }


def _numpy(t, x):
    A = np.exp(t["log_A0"] + t["alpha"] * np.log(N0))
    B = np.exp(t["log_B0"] + t["beta"] * np.log(D0))
    return np.exp(t["log_E"]) + A / x["N"] ** t["alpha"] + B / x["D"] ** t["beta"]


# Recovery at the library's default warmup (1000): with the battery's shorter 500 the dense mass
# matrix is sometimes still settling and a single divergence in 2000 draws can appear.
CASES = [
    Case(
        chinchilla,
        TRUTH,
        _inputs,
        _numpy,
        noise_sigma=0.02,
        n=120,
        fit_kwargs={"num_warmup": 1000},
    )
]
