#!/bin/bash
# Study A, TD3's three ingredients (in the spirit of Fujimoto et al. 2018, table 2): TD3, TD3 without each
# ingredient, and all three off (DDPG's update with TD3's networks and hyperparameters), on HalfCheetah-v4
# and Hopper-v4, 100k steps, seeds 1-3. From the repository root: bash benchmarks/results/td3_ablation.sh
# Resumable. The plain TD3 runs are the committed benchmark's (same runs directory, same flags): not rerun.
RUNS=benchmarks/results/runs
python benchmarks/run.py --runs-dir "$RUNS" --env-ids HalfCheetah-v4 Hopper-v4 --seeds 1 2 3 --workers 2 --threads-per-run 1 --scripts \
    td3_continuous.py \
    "td3-no-clipped-double-q=td3_continuous.py --num-critics 1" \
    "td3-no-target-smoothing=td3_continuous.py --policy-noise 0" \
    "td3-no-delay=td3_continuous.py --policy-frequency 1" \
    "td3-none-of-the-three=td3_continuous.py --num-critics 1 --policy-noise 0 --policy-frequency 1" \
    -- --total-timesteps 100000 --eval-frequency 10000
python benchmarks/plot.py --runs-dir "$RUNS" --env-ids HalfCheetah-v4 Hopper-v4 --scripts td3_continuous.py \
    td3-no-clipped-double-q td3-no-target-smoothing td3-no-delay td3-none-of-the-three \
    --q-values HalfCheetah-v4 Hopper-v4 --output-dir benchmarks/results/td3_ablation \
    --update-docs benchmarks/results/td3_ablation/README.md
