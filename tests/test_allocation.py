"""The one check of a law's N and D inputs that allocation, next_runs and isoFLOP fits share."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla, power_law_N
from isoflop_cases import grid_posterior, isoflop_grid

from bayescale._allocation import check_nd
from bayescale._hierarchical import grouped_fit_inputs


def _grouped_law():
    df = pd.DataFrame(
        {
            "N": [1e8, 1e9, 1e10] * 2,
            "D": [2e9, 2e10, 2e11] * 2,
            "loss": [3.0, 2.5, 2.2] * 2,
            "family": ["a"] * 3 + ["b"] * 3,
        }
    )
    law, _ = grouped_fit_inputs(chinchilla, df, ["family"], pooled=["alpha"])
    return law


def test_a_chinchilla_law_passes_every_wording():
    check_nd(chinchilla)
    check_nd(chinchilla, "x", grouped="y", only_nd=False, log_link=False)


def test_missing_inputs_are_named_in_the_callers_words():
    with pytest.raises(ValueError, match=r"^allocation splits .*'power_law_N' has inputs \['N'\]$"):
        check_nd(power_law_N)
    with pytest.raises(ValueError, match=r"^method='isoflop' needs runs in N and D; law "):
        check_nd(power_law_N, "method='isoflop' needs runs in N and D", only_nd=False)


def test_other_inputs_are_refused_only_where_n_and_d_must_be_all():
    extra = dataclasses.replace(chinchilla, name="chinchilla_u", inputs=("N", "D", "U"))
    with pytest.raises(ValueError, match=r"has inputs \['N', 'D', 'U'\]"):
        check_nd(extra)
    check_nd(extra, "prices runs", only_nd=False, log_link=False)


def test_the_link_is_checked_only_where_asked():
    linear = dataclasses.replace(chinchilla, name="chinchilla_identity", link="identity")
    with pytest.raises(ValueError, match="law 'chinchilla_identity' has link 'identity'"):
        check_nd(linear)
    check_nd(linear, "prices runs", log_link=False)


def test_a_grouped_law_gets_the_callers_remedy():
    law = _grouped_law()
    with pytest.raises(ValueError, match=r"is grouped: pass group=<label>$"):
        check_nd(law, "needs N and D", grouped="pass group=<label>", only_nd=False)
    # without a remedy the grouped law is judged by its inputs (N, D and the group code)
    with pytest.raises(ValueError, match=r"^allocation splits .* has inputs \['N', 'D', '"):
        check_nd(law)


def test_posterior_callers_use_their_wording():
    post = grid_posterior(isoflop_grid(np.random.default_rng(15)))
    no_tokens = dataclasses.replace(post, law=power_law_N)
    with pytest.raises(ValueError, match="method='isoflop' needs runs in N and D"):
        no_tokens.allocate(1e23, method="isoflop")
    with pytest.raises(ValueError, match="next_runs prices a run at C = k N D FLOPs"):
        no_tokens.next_runs({"N": [1e9], "D": [2e10]}, target={"N": 7e10, "D": 1.4e12})
    grouped = dataclasses.replace(post, law=_grouped_law())
    with pytest.raises(ValueError, match=r"is grouped: plan runs for one group with"):
        grouped.next_runs({"N": [1e9], "D": [2e10]}, target={"N": 7e10, "D": 1.4e12})
