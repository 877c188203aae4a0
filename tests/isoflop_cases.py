"""IsoFLOP grids of runs from a Chinchilla law with a known allocation, and a posterior of
tight draws around that law (made without sampling)."""

import math

import numpy as np
import pandas as pd
from bayescale.models import chinchilla
from bayescale.models._chinchilla import D0, N0

import bayescale as bs

# A Chinchilla law with a known allocation (Hoffmann et al.'s Approach 3 values):
# N*(C) = G (C/6)^a with a = beta/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta)).
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
A_TRUE = BETA / (ALPHA + BETA)
G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
BUDGETS = np.array([6e18, 3e19, 1e20, 6e20, 3e21])


def n_opt(C):
    return G * (np.asarray(C) / 6) ** A_TRUE


def law_loss(N, D, e=E, a=A, b=B, alpha=ALPHA, beta=BETA):
    return e + a * N**-alpha + b * D**-beta


def isoflop_grid(rng, *, runs=9, half=0.6, sigma=0.003, jitter=0.1, budgets=BUDGETS, beta=BETA):
    """``runs`` per budget, evenly spaced in log N over +-``half`` decades around a centre
    within ``jitter`` decades of the true optimum; log-normal noise ``sigma``."""
    rows = []
    for i, C in enumerate(budgets):
        centre = np.log10(n_opt(C)) + rng.uniform(-jitter, jitter)
        N = 10 ** np.linspace(centre - half, centre + half, runs)
        D = C / (6 * N)
        loss = law_loss(N, D, beta=beta) * np.exp(sigma * rng.standard_normal(runs))
        rows.append(pd.DataFrame({"N": N, "D": D, "loss": loss, "budget": f"c{i}"}))
    return pd.concat(rows, ignore_index=True)


def grid_posterior(data, *, beta=BETA, sd=0.002, num_draws=500, discrepancy=None):
    """A "NUTS" posterior of tight draws around the law above (no sampling)."""
    rng = np.random.default_rng(11)
    shape = (2, num_draws // 2)
    centre = {
        "log_E": math.log(E),
        "log_A0": math.log(A) - ALPHA * math.log(N0),
        "log_B0": math.log(B) - beta * math.log(D0),
        "alpha": ALPHA,
        "beta": beta,
    }
    draws = {k: v + sd * rng.standard_normal(shape) for k, v in centre.items()}
    draws["sigma"] = 0.005 * np.exp(0.01 * rng.standard_normal(shape))
    stats_ = {
        "diverging": np.zeros(shape, bool),
        "n_steps": np.full(shape, 7),
        "energy": rng.standard_normal(shape),
        "acceptance_rate": np.full(shape, 0.9),
    }
    return bs.Posterior(
        law=chinchilla,
        noise="normal",
        data=data[["N", "D", "loss"]],
        draws=draws,
        stats=stats_,
        seed=3,
        discrepancy=discrepancy,
    )
