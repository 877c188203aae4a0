"""Battery cases: downstream accuracy laws (emergence, exact match, smooth logit-linear)."""

import numpy as np
from battery import Case
from bayescale.models import emergence, emergence_loss, exact_match, logit_linear


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def beta_accuracy(mean_fn, sigma):
    """Simulate the ``"beta"`` noise: Beta(mu phi, (1 - mu) phi), phi = 1/(sigma^2 mu(1-mu))."""

    def simulate(rng, t, x):
        mu = mean_fn(t, x)
        phi = 1.0 / (sigma**2 * mu * (1 - mu))
        return np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-12, 1 - 1e-12)

    return simulate


def binomial_accuracy(mean_fn, n_questions):
    def simulate(rng, t, x):
        return rng.binomial(n_questions, mean_fn(t, x)) / n_questions

    return simulate


def _emergence(t, x):
    f, h = t["floor"], t["floor"] + (1 - t["floor"]) * t["gain"]
    return f + (h - f) * _sigmoid(t["k"] * (np.log(x["C"]) - np.log(1e21) - t["c0"]))


def _emergence_loss(t, x):
    f, h = t["floor"], t["floor"] + (1 - t["floor"]) * t["gain"]
    return f + (h - f) * _sigmoid(-t["k"] * (x["loss"] - t["L_mid"]))


def _exact_match(t, x):
    p_token = np.exp(-(np.exp(t["log_E"]) + np.exp(t["log_A"]) * (x["C"] / 1e21) ** -t["alpha"]))
    return p_token**1


def _logit_linear(t, x):
    return _sigmoid(t["a"] + t["b"] * np.log(x["C"] / 1e21))


def _compute(lo, hi):
    return lambda rng, n: {"C": np.exp(rng.uniform(np.log(lo), np.log(hi), n))}


T_EMERGENCE = {"floor": 0.05, "gain": 0.85, "k": 1.5, "c0": 2.0}
T_LOSS = {"floor": 0.25, "gain": 0.9, "k": 4.0, "L_mid": 2.6}
T_EXACT = {"log_E": np.log(0.05), "log_A": 0.0, "alpha": 0.4}
T_LINEAR = {"a": -1.0, "b": 0.5}

CASES = [
    Case(
        emergence,
        T_EMERGENCE,
        _compute(1e19, 1e24),
        _emergence,
        noise_sigma=0.2,
        n=120,
        simulate=beta_accuracy(_emergence, 0.2),
        fit_kwargs={"noise": "beta"},
    ),
    Case(
        emergence_loss,
        T_LOSS,
        lambda rng, n: {"loss": rng.uniform(1.5, 4.0, n)},
        _emergence_loss,
        noise_sigma=0.2,
        n=120,
        simulate=beta_accuracy(_emergence_loss, 0.2),
        fit_kwargs={"noise": "beta"},
    ),
    Case(
        exact_match,
        T_EXACT,
        _compute(1e19, 1e25),
        _exact_match,
        n=100,
        simulate=binomial_accuracy(_exact_match, 1000),
        fit_kwargs={"noise": "binomial_1000"},
    ),
    Case(
        logit_linear,
        T_LINEAR,
        _compute(1e18, 1e24),
        _logit_linear,
        noise_sigma=0.3,
        n=80,
        simulate=beta_accuracy(_logit_linear, 0.3),
        fit_kwargs={"noise": "beta"},
    ),
]
