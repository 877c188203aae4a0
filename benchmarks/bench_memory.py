"""Peak memory of a default fit on many rows, and the size of its saved file.

Simulated Chinchilla-like rows (Epoch's refit as the truth, log-normal noise of 1%), the default
``bs.fit``, then ``save`` and ``load``; prints the process's peak resident memory after each step
and the file's size. Goals: 100,000 rows under 2 GB of peak memory and a file under 100 MB.

Usage:
    .venv/bin/python benchmarks/bench_memory.py [ROWS]      (default 100000)
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from bayescale.models import chinchilla

import bayescale as bs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(rows: int) -> None:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), rows))
    d = n * np.exp(rng.uniform(np.log(2.0), np.log(500.0), rows))  # 2-500 tokens/param
    loss = (1.817 + 482.0 / n**0.348 + 2085.4 / d**0.366) * np.exp(0.01 * rng.standard_normal(rows))
    df = pd.DataFrame({"N": n, "D": d, "loss": loss})
    print(f"{rows} rows; peak {peak_mb():.0f} MB before fitting", flush=True)
    t = time.perf_counter()
    post = bs.fit(chinchilla, df, seed=0, progress=False)
    print(f"fit {time.perf_counter() - t:.0f} s, ok={post.ok}; peak {peak_mb():.0f} MB", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fit.nc")
        post.save(path)
        size = os.path.getsize(path) / 1e6
        back = bs.load(path)
        print(f"saved {size:.1f} MB, loads with ok={back.ok}; peak {peak_mb():.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
