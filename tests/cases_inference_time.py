"""Battery cases: inference-time laws (serving cost, temperature, test-time compute, Jones)."""

import numpy as np
from battery import Case
from bayescale.models import (
    latency_N,
    memory_N,
    temperature_quality,
    test_time_compute,
    throughput_batch,
    train_test_tradeoff,
    utilisation_batch,
)
from cases_downstream import beta_accuracy


def _loguniform(name, lo, hi):
    return lambda rng, n: {name: np.exp(rng.uniform(np.log(lo), np.log(hi), n))}


def _throughput(t, x):
    return np.exp(t["log_T_max"]) * x["B"] / (x["B"] + np.exp(t["log_B_half"]))


def _utilisation(t, x):
    return t["u_max"] * x["B"] / (x["B"] + np.exp(t["log_B_half"]))


def _latency(t, x):
    return np.exp(t["log_t0"]) + np.exp(t["log_a"]) * (x["N"] / 1e9) ** t["gamma"]


def _memory(t, x):
    return np.exp(t["log_M0"]) + np.exp(t["log_a"]) * (x["N"] / 1e9) ** t["gamma"]


def _temperature(t, x):
    w = np.exp(t["log_width"])
    return np.exp(t["log_q_max"]) * np.exp(-((x["temperature"] - t["tau_opt"]) ** 2) / (2 * w**2))


def _ttc(t, x):
    return t["ceil"] / (1 + np.exp(-t["b"] * (np.log(x["C_test"]) - t["log_C_half"])))


def _jones(t, x):
    return np.exp(t["log_C_min"]) + np.exp(t["log_K"]) * (x["C_train"] / 1e15) ** -t["m"]


CASES = [
    Case(
        throughput_batch,
        {"log_T_max": np.log(5000.0), "log_B_half": np.log(16.0)},
        _loguniform("B", 1, 1024),
        _throughput,
        noise_sigma=0.03,
        n=40,
    ),
    Case(
        utilisation_batch,
        {"u_max": 0.6, "log_B_half": np.log(8.0)},
        _loguniform("B", 1, 512),
        _utilisation,
        noise_sigma=0.03,
        n=40,
    ),
    Case(
        latency_N,
        {"log_t0": np.log(0.005), "log_a": np.log(0.002), "gamma": 1.0},
        _loguniform("N", 1e8, 2e11),
        _latency,
        noise_sigma=0.03,
        n=50,
    ),
    Case(
        memory_N,
        {"log_M0": np.log(2e9), "log_a": np.log(2e9), "gamma": 1.0},
        _loguniform("N", 1e8, 2e11),
        _memory,
        noise_sigma=0.03,
        n=50,
    ),
    Case(
        temperature_quality,
        {"log_q_max": np.log(0.6), "tau_opt": 0.8, "log_width": np.log(0.4)},
        lambda rng, n: {"temperature": rng.uniform(0.05, 2.0, n)},
        _temperature,
        noise_sigma=0.03,
        n=50,
    ),
    Case(
        test_time_compute,
        {"ceil": 0.85, "log_C_half": 7.5, "b": 0.8},
        _loguniform("C_test", 10, 1e5),
        _ttc,
        noise_sigma=0.2,
        n=80,
        simulate=beta_accuracy(_ttc, 0.2),
        fit_kwargs={"noise": "beta"},
    ),
    Case(
        train_test_tradeoff,
        {"log_C_min": np.log(1e6), "log_K": np.log(1e11), "m": 1.2},
        _loguniform("C_train", 1e12, 1e21),
        _jones,
        noise_sigma=0.05,
        n=40,
    ),
]
