"""Every law in the catalog through the same battery (cases in tests/cases_*.py)."""

import importlib
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive
from numpyro.infer.util import log_density

import bayescale as bs

CASES = [
    case
    for path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py"))
    for case in importlib.import_module(path.stem).CASES
]
IDS = [c.name for c in CASES]
# The inner loop (-m "not slow") runs the sampling-heavy parts of the battery on a few laws that
# cover the shapes (two-input, one-input power law, downstream link); CI runs every law.
INNER = {"chinchilla", "power_law_N", "logit_linear"}
CASES_INNER = [
    pytest.param(c, id=c.name, marks=() if c.name in INNER else pytest.mark.slow) for c in CASES
]


def _x(case, seed=1, n=16):
    return {k: jnp.asarray(v) for k, v in case.make_inputs(np.random.default_rng(seed), n).items()}


def test_every_catalog_law_has_a_case():
    covered = {c.law.name for c in CASES}
    catalog = set(bs.laws().index)
    assert catalog <= covered, f"laws without a battery case: {sorted(catalog - covered)}"
    assert PLAIN_PUBLISHED <= {c.name for c in CASES}


def test_readme_factories_import_from_the_catalog():
    """The README names these factories as ``bayescale.models.<name>``."""
    from bayescale import models

    built = [
        models.power_law("N"),
        models.hestness("D"),
        models.bnsl(2, "N"),
        models.exact_match_law(3),
    ]
    assert all(isinstance(law, bs.Law) for law in built)
    assert {"power_law", "hestness", "bnsl", "exact_match_law"} <= set(models.__all__)


# Laws whose every published parameter is sampled as itself or as its log. The others publish
# derived constants (Chinchilla's A = exp(log_A0) N0^alpha, Kaplan's N_c, BNSL's break in raw
# units...), checked against published numbers in their families' tests.
PLAIN_PUBLISHED = {
    "exact_match",
    "logit_linear",
    "throughput_batch",
    "utilisation_batch",
    "latency_N",
    "memory_N",
    "temperature_quality",
    "test_time_compute",
    "train_test_tradeoff",
}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name in PLAIN_PUBLISHED], ids=lambda c: c.name
)
def test_published_parameters_are_the_sampling_values_or_their_exp(case):
    """Each published parameter ``P`` is the sampled ``P`` or ``exp(log_P)`` (a wrong name or
    a missing exp would otherwise ship silently)."""
    truth = {k: np.asarray(v) for k, v in case.truth.items()}
    published = case.law.to_published(truth)
    assert set(published) == set(case.law.published)
    for name, value in published.items():
        expected = truth[name] if name in truth else np.exp(truth[f"log_{name}"])
        np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=name)


ND_CASES = [c for c in CASES if set(c.law.inputs) == {"N", "D"}]


@pytest.mark.parametrize("case", ND_CASES, ids=[c.name for c in ND_CASES])
@pytest.mark.parametrize("budget", [1e18, 1e21, 1e24])
def test_allocation_minimises_the_papers_formula_on_the_budget_line(case, budget):
    """N* of the engine (closed form where the law has one, golden-section search otherwise)
    against SciPy's bounded minimisation of the plain-NumPy formula along N D = budget."""
    from scipy.optimize import minimize_scalar

    from bayescale._allocation import optimal_allocation

    truth = {k: jnp.asarray(v) for k, v in case.truth.items()}
    opt = optimal_allocation(case.law, truth, jnp.asarray(budget))

    def loss(log_n):
        n = np.exp(log_n)
        return float(
            case.numpy_target(case.truth, {"N": np.array([n]), "D": np.array([budget / n])})[0]
        )

    half = 0.5 * np.log(budget)
    ref = minimize_scalar(
        loss, bounds=(half - 20, half + 20), method="bounded", options={"xatol": 1e-10}
    )
    assert ref.success
    np.testing.assert_allclose(np.log(float(opt["N"])), ref.x, atol=1e-4)
    np.testing.assert_allclose(float(opt["N"]) * float(opt["D"]), budget, rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mean_shape_and_numpy_reference(case):
    x = _x(case)
    theta = {k: jnp.asarray(v) for k, v in case.truth.items()}
    loc = case.law.mean(theta, x)
    assert loc.shape == (16,)
    assert loc.dtype == jnp.float64
    inv = {"log": np.exp, "identity": lambda v: v, "logit": lambda v: 1 / (1 + np.exp(-v))}
    got = inv[case.law.link](np.asarray(loc))
    want = case.numpy_target(case.truth, {k: np.asarray(v) for k, v in x.items()})
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("case", CASES_INNER)
def test_prior_predictive_is_finite(case, rng_key):
    model = bs.build_model(case.law, case.fit_kwargs.get("noise", "normal"))
    draws = Predictive(model, num_samples=200)(rng_key, _x(case))
    for name in case.law.param_names:
        assert np.all(np.isfinite(draws[name])), name
    # The prior predictive of the target is finite in all but a negligible share of draws
    # (heavy-tailed priors may overflow exp() in the far tail).
    assert np.mean(np.isfinite(draws["obs"])) > 0.99


@pytest.mark.parametrize("case", CASES_INNER)
def test_log_density_gradient_is_finite(case):
    model = bs.build_model(case.law, case.fit_kwargs.get("noise", "normal"))
    df = case.dataset(seed=2)
    x = {k: jnp.asarray(df[k].to_numpy()) for k in case.law.inputs}
    y = jnp.asarray(df[case.law.target].to_numpy())
    params = {k: jnp.asarray(v) for k, v in case.truth.items()}
    params.update({"sigma": jnp.asarray(case.noise_sigma)})
    if case.fit_kwargs.get("noise") == "student_t":
        params["nu"] = jnp.asarray(10.0)

    def lp(p):
        return log_density(model, (x, y), {}, p)[0]

    value, grad = jax.value_and_grad(lp)(params)
    assert np.isfinite(value)
    for k, g in grad.items():
        assert np.isfinite(g), k


@pytest.mark.parametrize("case", CASES_INNER)
def test_parameter_recovery(case):
    """Truth lies within 4 posterior sd of the posterior median for each recovered parameter
    (a miss has probability < 1e-4 per parameter under a correct, Gaussian-ish posterior)."""
    df = case.dataset(seed=3)
    kwargs = {"num_warmup": 500, "num_samples": 500, **case.fit_kwargs}
    post = bs.fit(case.law, df, seed=0, **kwargs)
    assert post.ok, post.problems
    truth = dict(case.truth)
    names = list(case.recover or case.law.param_names)
    if case.simulate is None and "noise" not in case.fit_kwargs:
        # simulated as exp(log mean + N(0, noise_sigma)): the fit's noise scale is noise_sigma
        # (a likelihood weighted wrongly, e.g. tempered, would miss it)
        truth["sigma"] = case.noise_sigma
        names.append("sigma")
    for name in names:
        draws = post.draws[name].reshape(-1)
        z = (np.median(draws) - truth[name]) / draws.std()
        assert abs(z) < 4.0, f"{name}: truth {truth[name]:.4g}, z={z:.2f}"
