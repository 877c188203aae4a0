#!/usr/bin/env bash
# Prepare what benchmarks/bench_gpu.py needs on the lent GPU machine, which has jax, numpyro,
# optax, pandas, xarray and matplotlib but not ArviZ 1.x or BlackJAX, and cannot reach PyPI.
# Run from the repository root; then, with the device tool, carry [".whl", ".gpubench"] and run:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; set -o pipefail;
#   PYTHONUNBUFFERED=1 GPU_GUARD=100 ANCHOR_GUARD=30 CPU_GUARD=45 \
#     python3 benchmarks/bench_gpu.py .gpubench 2>&1 | tee $OUT/gpu.txt
# (about 6-8 minutes with a 500 s timeout; the sections most wanted come first).
set -euo pipefail
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
grep -qx '/.gpubench/' .git/info/exclude 2>/dev/null || echo '/.gpubench/' >> .git/info/exclude
rm -rf .whl .gpubench
mkdir -p .whl
cp -r ../shared/bench .gpubench
# the versions the project is tested with (pure-Python wheels)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
  blackjax==1.7.1 arviz==1.3.0 arviz-base==1.3.1 arviz-stats==1.3.3 arviz-plots==1.3.2 \
  h5netcdf==1.8.2 xarray-einstats==0.11.0
python3 -m pip wheel -q --no-deps -w .whl .
du -sh .whl .gpubench
echo "device command (carry .whl and .gpubench):"; sed -n 4,8p "$0" | sed "s/^# *//"
