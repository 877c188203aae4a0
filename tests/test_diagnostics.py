"""Hints after a failed fit: which parameters the data do not identify, and what would."""

import numpy as np
import pandas as pd
from bayescale.models import chinchilla

from bayescale._diagnostics import WEAK_IDENTIFICATION_RATIO, identification_hints


def _draws(sds: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: 0.3 + sd * rng.standard_normal((4, 2000)) for k, sd in sds.items()}


def test_a_parameter_with_its_prior_width_is_named_with_the_runs_that_would_pin_it():
    # log_E's prior is Normal(0.5, 1): a posterior sd of 0.9 is 90% of it; beta's prior sd is
    # ~0.4 (truncated), 0.01 is well identified.
    draws = _draws({"log_E": 0.9, "log_A0": 0.05, "log_B0": 0.05, "alpha": 0.01, "beta": 0.01})
    data = pd.DataFrame({"N": [1e8, 3e8, 1e9], "D": [2e9, 2e10, 2e11], "loss": [3.0, 2.8, 2.6]})
    (hint,) = identification_hints(chinchilla, draws, data)
    assert "log_E (posterior sd 90% of the prior's)" in hint
    assert "alpha" not in hint and "beta" not in hint
    assert "N 1.0 decades, D 2.0 decades" in hint
    assert "10x the largest N (1e+10)" in hint


def test_well_identified_parameters_get_no_hint():
    draws = _draws({"log_E": 0.01, "log_A0": 0.05, "log_B0": 0.05, "alpha": 0.01, "beta": 0.01})
    data = pd.DataFrame({"N": [1e8, 1e10], "D": [2e9, 2e11], "loss": [3.0, 2.6]})
    assert identification_hints(chinchilla, draws, data) == []
    # just under the threshold is not flagged either
    sd = 0.99 * WEAK_IDENTIFICATION_RATIO * 1.0
    assert identification_hints(chinchilla, {**draws, **_draws({"log_E": sd})}, data) == []


def test_one_chain_is_told_to_run_more_chains_not_that_r_hat_is_nan():
    from bayescale._diagnostics import check_convergence, convergence_table

    rng = np.random.default_rng(1)
    draws = {"a": rng.standard_normal((1, 1000))}
    stats = {
        "diverging": np.zeros((1, 1000), bool),
        "n_steps": np.full((1, 1000), 7),
        "energy": rng.standard_normal((1, 1000)),
    }
    table = convergence_table(draws)
    problems = check_convergence(table, stats, max_tree_depth=10, warn=False)
    rhat = [p for p in problems if "R-hat" in p]
    if np.isfinite(table["r_hat"]).all():  # a split R-hat of one chain is fine as it is
        assert rhat == []
    else:
        assert rhat == [
            "R-hat needs at least 2 chains (this fit ran 1): convergence cannot be checked. "
            "Remedy: num_chains=4 (the default)."
        ]
        assert "nan" not in " ".join(problems)
