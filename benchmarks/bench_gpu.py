"""GPU benchmark: one prepared script for one H100 session (log of a run: results/gpu_h100_*.txt).

One script, <= 8 minutes: in one session on the GPU machine it runs
  1. bayescale.fit_many(method="chees") (8 chains x (500 + 500) per dataset, lock-step ChEES)
     for K = 1, 10, 100, 1000 on the GPU;
  2. K = 1000 again with 4 chains x (500 + 1000) per fit, the chain count the goal names
     (with 500 draws, 4 chains left R-hat just above 1.01 in a few % of fits), with a cProfile
     of the second call (host-side Python vs waiting for the device);
  3. the baseline ../shared/bench/gpu_anchor.py (hand-written NumPyro NUTS, whole MCMC jitted,
     one fit x 3 and vmap over K=10 datasets) on the GPU, with GUARD seconds;
  4. the same fit_many table on the same machine's CPU (JAX_PLATFORMS=cpu, K <= 100, one XLA
     device per core as ``import bayescale`` sets up) for the GPU-vs-CPU ratio;
and prints the tables (the sections most wanted first, so a run cut short keeps them).
Goal: 1000 posteriors (4 chains, R-hat <= 1.01) in < 30 s on the H100, and the GPU
faster than the CPU from K = 100 up.

Usage (from the repository root, on the GPU machine; `bash benchmarks/prepare_gpu_bundle.sh`
here first builds the wheels it lacks and prints the device command):
    python benchmarks/bench_gpu.py [path/to/shared/bench]
Budget knobs: ANCHOR_GUARD (default 100 s), GPU_GUARD (230 s), CPU_GUARD (90 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "bench")


def run(cmd, env, timeout):
    t = time.perf_counter()
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        text = out.stdout + out.stderr[-2000:]
    except subprocess.TimeoutExpired as err:
        text = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        text += f"\n# timed out after {timeout} s"
    print(f"$ {' '.join(cmd)}  ({time.perf_counter() - t:.0f} s)\n{text}", flush=True)


def main():
    env = dict(os.environ)
    anchor_guard = int(os.environ.get("ANCHOR_GUARD", 100))
    gpu_guard = int(os.environ.get("GPU_GUARD", 230))
    cpu_guard = int(os.environ.get("CPU_GUARD", 90))
    print("== 1. bayescale.fit_many(method='chees') on the GPU ==", flush=True)
    run(
        [sys.executable, os.path.join(HERE, "bench_fit_many.py"), "1000", "chees"],
        {**env, "GUARD": str(gpu_guard)},
        gpu_guard + 90,
    )
    print(
        "== 2. K = 1000 with 4 chains x (500 + 1000) per fit (the goal's chain count) ==",
        flush=True,
    )
    run(
        [sys.executable, os.path.join(HERE, "bench_fit_many.py"), "1000", "chees"],
        {
            **env,
            "CHAINS": "4",
            "SAMPLES": "1000",
            "KS": "1000",
            "GUARD": str(gpu_guard),
            "PROFILE": "1",  # host vs device time of the K = 1000 call
        },
        gpu_guard,
    )
    print("== 3. baseline: hand-written NumPyro NUTS (gpu_anchor.py) on the GPU ==", flush=True)
    run(
        [sys.executable, os.path.join(BENCH, "gpu_anchor.py"), "10"],
        {**env, "GUARD": str(anchor_guard)},
        anchor_guard + 60,
    )
    print("== 4. the same on this machine's CPU, one XLA device per core ==", flush=True)
    run(
        [sys.executable, os.path.join(HERE, "bench_fit_many.py"), "100", "chees"],
        {**env, "JAX_PLATFORMS": "cpu", "GUARD": str(cpu_guard)},
        cpu_guard + 60,
    )


if __name__ == "__main__":
    main()
