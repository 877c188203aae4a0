"""Reference posteriors that tests of different methods share."""

# The default Chinchilla model on Epoch's 240 points, from ChEES-HMC (a different sampler from
# the default NUTS), made by (31 s on 2 cores)
#     bs.fit(chinchilla, bs.datasets.load("chinchilla", variant="epoch"), method="chees",
#            seed=123, num_chains=16, num_warmup=1000, num_samples=5000)
# bulk ESS 56,000-63,000. name -> (mean, sd, MCSE of the mean, MCSE of the sd). Hand-written
# NumPyro NUTS and PyMC + nutpie agree to the 4 digits they were run to
# (benchmarks/results/cpu_samplers_*.txt).
REFERENCE = {
    "E": (1.86404, 0.0142875, 5.91e-05, 5.41e-05),
    "A": (603.304, 108.935, 0.458, 0.429),
    "B": (4966.06, 970.89, 3.9, 3.96),
    "alpha": (0.360277, 0.0103336, 4.35e-05, 3.77e-05),
    "beta": (0.405863, 0.00947961, 3.8e-05, 3.51e-05),
    "sigma": (0.00702173, 0.000326679, 1.3e-06, 1.21e-06),
}
