#!/bin/bash
# Study A, TD3's three ingredients (in the spirit of Fujimoto et al. 2018, table 2): TD3 without each
# ingredient, and all three off (DDPG's update with TD3's networks and hyperparameters), on HalfCheetah-v4
# and Hopper-v4, 100k steps, seeds 1-3. From the repository root: bash benchmarks/results/td3_ablation.sh
# Resumable. Plain TD3, the baseline, is the first 100k steps of the main benchmark's 1M-step runs
# (run_all.sh): the same code and flags, read by plot.py's --first-steps, not run again.
STUDY=benchmarks/results/td3_ablation
python benchmarks/run.py --runs-dir "$STUDY/runs" --env-ids HalfCheetah-v4 Hopper-v4 --seeds 1 2 3 --workers 2 \
    --threads-per-run 1 --scripts \
    "td3-no-clipped-double-q=td3_continuous.py --num-critics 1" \
    "td3-no-target-smoothing=td3_continuous.py --policy-noise 0" \
    "td3-no-delay=td3_continuous.py --policy-frequency 1" \
    "td3-none-of-the-three=td3_continuous.py --num-critics 1 --policy-noise 0 --policy-frequency 1" \
    -- --total-timesteps 100000 --eval-frequency 10000
python benchmarks/compact.py "$STUDY/runs" --keep-every 10
python benchmarks/plot.py --runs-dir benchmarks/results/runs "$STUDY/runs" --first-steps 100000 \
    --env-ids HalfCheetah-v4 Hopper-v4 --scripts td3_continuous.py td3-no-clipped-double-q td3-no-target-smoothing \
    td3-no-delay td3-none-of-the-three --q-values HalfCheetah-v4 Hopper-v4 --output-dir "$STUDY" \
    --update-docs "$STUDY/README.md"
