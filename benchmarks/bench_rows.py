"""Big ladders: how the default fit's cost grows with the number of rows.

For simulated Chinchilla-like rows (Epoch's refit as the truth, log-normal noise of 1%) at 240,
2,400, 24,000 and 120,000 rows, and for the bundled GPT-3 learning curves with ``kaplan_NS``
(the 6,506 digitised rows with a validation loss), each size runs in a fresh process and reports:

* first fit (compilation included) and refit (same shape, new data: no compilation);
* warmup and sampling time (a refit with twice the draws, compiled beforehand, gives the
  sampling share);
* leapfrog steps per draw while sampling (counted) and in warmup (from the time ratio of the
  two phases, which run as many iterations), divergences, and whether diagnostics passed;
* peak resident memory of the process;

then the slope of log(refit time) against log(rows) between 2,400 and 120,000 rows (linear cost
is a slope of 1).

Usage:
    .venv/bin/python benchmarks/bench_rows.py [ROWS ...] [--gpt3] [--init laplace|uniform]
        [--chain-method auto|parallel|split_rows|sequential]

Defaults: 240 2400 24000 120000 --gpt3, ``init="laplace"``, ``chain_method="auto"`` (the default
fit: the chains over the devices below 16,384 rows, in turn on one device from there on).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

_CHILD = textwrap.dedent(
    r"""
    import json, resource, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np, pandas as pd
    import bayescale as bs
    from bayescale.models import chinchilla, kaplan_NS

    rows, init, gpt3, cm = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4]

    def simulate(seed):
        rng = np.random.default_rng(seed)
        n = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), rows))
        d = n * np.exp(rng.uniform(np.log(2.0), np.log(500.0), rows))  # 2-500 tokens/param
        loss = 1.817 + 482.0 / n**0.348 + 2085.4 / d**0.366
        noisy = loss * np.exp(0.01 * rng.standard_normal(rows))
        return pd.DataFrame({"N": n, "D": d, "loss": noisy})

    if gpt3:
        law, data = kaplan_NS, [bs.datasets.load("gpt3_curves")] * 2
        rows = len(data[0])
    else:
        law, data = chinchilla, [simulate(0), simulate(1)]
    out = {"rows": rows, "law": law.name}
    opts = dict(init=init, chain_method=cm)
    t = time.perf_counter()
    post = bs.fit(law, data[0], seed=0, **opts)
    out["first_s"] = time.perf_counter() - t
    t = time.perf_counter()
    post = bs.fit(law, data[1], seed=1, **opts)
    out["refit_s"] = time.perf_counter() - t
    bs.fit(law, data[0], seed=0, num_samples=2000, **opts)  # compiles the longer run
    t = time.perf_counter()
    twice = bs.fit(law, data[1], seed=1, num_samples=2000, **opts)
    out["sampling_s"] = max(time.perf_counter() - t - out["refit_s"], 0.0)
    out["warmup_s"] = out["refit_s"] - out["sampling_s"]
    steps = np.asarray(post.stats["n_steps"])
    out.update(
        steps_per_draw=float(steps.mean()),
        divergent=int(np.asarray(post.stats["diverging"]).sum()),
        ok=bool(post.ok),
        chain_method=post.settings["chain_method"],
        notes=len(post.notes),
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    print("RESULT " + json.dumps(out))
    """
)


def run(rows: int, init: str, gpt3: bool = False, chain_method: str = "auto") -> dict:
    env = {**os.environ, "BAYESCALE_COMPILATION_CACHE": "0"}  # time compilation honestly
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(rows), init, "1" if gpt3 else "0", chain_method],
        capture_output=True,
        text=True,
        env=env,
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not line:
        raise RuntimeError(f"{rows} rows failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[0][len("RESULT ") :])


def main(argv: list[str]) -> None:
    init = "laplace"
    if "--init" in argv:
        i = argv.index("--init")
        init = argv[i + 1]
        del argv[i : i + 2]
    chain_method = "auto"
    if "--chain-method" in argv:
        i = argv.index("--chain-method")
        chain_method = argv[i + 1]
        del argv[i : i + 2]
    gpt3 = "--gpt3" in argv or not argv
    sizes = [int(a) for a in argv if a.isdigit()] or [240, 2400, 24000, 120000]
    results = []
    for rows in sizes:
        results.append(run(rows, init, chain_method=chain_method))
        print(json.dumps(results[-1]), flush=True)
    if gpt3:
        results.append(run(0, init, gpt3=True, chain_method=chain_method))
        print(json.dumps(results[-1]), flush=True)
    cols = [
        "law",
        "rows",
        "first_s",
        "refit_s",
        "warmup_s",
        "sampling_s",
        "steps_per_draw",
        "warmup_steps_per_draw",
        "divergent",
        "ok",
        "chain_method",
        "peak_mb",
    ]
    for r in results:
        # leapfrog steps per warmup iteration, from time: warmup and sampling run as many
        # iterations, so their time ratio scales the counted sampling steps (the Laplace start,
        # a few hundred gradients, counts as warmup here)
        r["warmup_steps_per_draw"] = r["steps_per_draw"] * r["warmup_s"] / r["sampling_s"]
    print(f"\ninit={init!r}, 4 chains x (1000 + 1000), float64, {os.cpu_count()} cores")
    print(" | ".join(cols))
    for r in results:
        print(" | ".join(f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    sim = [r for r in results if r["law"] == "chinchilla" and r["rows"] >= 2400]
    if len(sim) >= 2:
        x = np.log([r["rows"] for r in sim])
        y = np.log([r["refit_s"] for r in sim])
        slope = np.polyfit(x, y, 1)[0]
        print(
            f"slope of log(refit time) on log(rows), {sim[0]['rows']}-{sim[-1]['rows']}: "
            f"{slope:.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
