"""Battery cases for Kaplan et al. (2020)'s joint, learning-curve and critical-batch laws.

Truths are Kaplan's published constants and inputs span his scales (his raw runs are not
public), so the battery's recovery test doubles as the check that the forms recover his numbers.
"""

import numpy as np
from battery import Case
from bayescale.models import kaplan_bcrit, kaplan_ND, kaplan_NS
from bayescale.models._kaplan import D0, L_REF, N0, S0

# Kaplan Table 2 (eq. 1.5) and Table 3 (eq. 1.6), Section 5.1 (eq. 1.4).
ND = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}
NS = {"alpha_N": 0.077, "alpha_S": 0.76, "N_c": 6.5e13, "S_c": 2.1e3}
BCRIT = {"B_star": 2e8, "alpha_B": 0.21}

ND_TRUTH = {
    "ell_N": ND["alpha_N"] * np.log(ND["N_c"] / N0),
    "ell_D": ND["alpha_D"] * np.log(ND["D_c"] / D0),
    "alpha_N": ND["alpha_N"],
    "alpha_D": ND["alpha_D"],
}
NS_TRUTH = {
    "ell_N": NS["alpha_N"] * np.log(NS["N_c"] / N0),
    "ell_S": NS["alpha_S"] * np.log(NS["S_c"] / S0),
    "alpha_N": NS["alpha_N"],
    "alpha_S": NS["alpha_S"],
}
BCRIT_TRUTH = {
    "log_B_ref": np.log(BCRIT["B_star"]) - np.log(L_REF) / BCRIT["alpha_B"],
    "alpha_B": BCRIT["alpha_B"],
}


def _lu(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def nd_inputs(rng, n):
    """Kaplan's L(N, D) runs: 1e6-1.5e9 non-embedding parameters, 22M-23B tokens."""
    return {"N": _lu(rng, 1e6, 1.5e9, n), "D": _lu(rng, 2.2e7, 2.3e10, n)}


def ns_inputs(rng, n):
    """Kaplan's learning curves: 1e6-1.5e9 parameters, 2e3-2.5e5 steps (after warmup)."""
    return {"N": _lu(rng, 1e6, 1.5e9, n), "S": _lu(rng, 2e3, 2.5e5, n)}


def bcrit_inputs(rng, n):
    """Kaplan Fig. 10: critical batch measured at training losses of ~2.5-6 nats."""
    return {"loss": _lu(rng, 2.5, 6.0, n)}


def nd_numpy(t, x):
    n_c = N0 * np.exp(t["ell_N"] / t["alpha_N"])
    d_c = D0 * np.exp(t["ell_D"] / t["alpha_D"])
    a_n, a_d = t["alpha_N"], t["alpha_D"]
    return ((n_c / x["N"]) ** (a_n / a_d) + d_c / x["D"]) ** a_d


def ns_numpy(t, x):
    n_c = N0 * np.exp(t["ell_N"] / t["alpha_N"])
    s_c = S0 * np.exp(t["ell_S"] / t["alpha_S"])
    return (n_c / x["N"]) ** t["alpha_N"] + (s_c / x["S"]) ** t["alpha_S"]


def bcrit_numpy(t, x):
    b_star = np.exp(t["log_B_ref"]) * L_REF ** (1 / t["alpha_B"])
    return b_star / x["loss"] ** (1 / t["alpha_B"])


CASES = [
    # At target_accept_prob 0.9 R-hat reached 1.010 in 1 of 8 seeds; 0 of 8 at 0.95
    # (2026-11-27, one CPU device).
    Case(
        kaplan_ND,
        ND_TRUTH,
        nd_inputs,
        nd_numpy,
        noise_sigma=0.01,
        n=80,
        fit_kwargs={"target_accept_prob": 0.95},
    ),
    Case(kaplan_NS, NS_TRUTH, ns_inputs, ns_numpy, noise_sigma=0.01, n=80),
    # B_crit estimates scatter by ~10% (Kaplan Fig. 10; McCandlish et al. 2018).
    Case(kaplan_bcrit, BCRIT_TRUTH, bcrit_inputs, bcrit_numpy, noise_sigma=0.1, n=60),
]
