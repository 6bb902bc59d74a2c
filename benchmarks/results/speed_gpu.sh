#!/usr/bin/env bash
# The GPU speed table, benchmarks/results/speed_gpu.md: our scripts eager, with --cudagraphs and with
# --compile --cudagraphs (LeanRL's setting), against CleanRL's on the same work, one run each.
# CleanRL needs its own environment (gymnasium 0.29.1, NumPy 1; see cleanrl/run_cleanrl.sh):
#   CLEANRL=/path/to/cleanrl CLEANRL_PYTHON=/path/to/its/python bash benchmarks/results/speed_gpu.sh
set -eu
cd "$(dirname "$0")/../.."
python3 benchmarks/speed.py --cudagraphs --compile --repeats 1 --learning-starts 1000 --warmup 300 --steps 2000 \
  --cleanrl-dir "$CLEANRL" --cleanrl-python "$CLEANRL_PYTHON" --output "${OUTPUT:-benchmarks/results/speed_gpu.md}"
