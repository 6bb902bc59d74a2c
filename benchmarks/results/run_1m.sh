#!/bin/bash
# The papers' budget: the three scripts x HalfCheetah, Hopper, Walker2d x seeds 1-3, 1M steps each, default
# hyperparameters. From the repository root:   nohup nice -n 19 bash benchmarks/results/run_1m.sh &
# About 58 CPU-hours; two runs at a time, one thread each. Resumable: run it again after any stop and every
# run continues from its last checkpoint (every 25k steps, with the replay buffer, so that a resumed run is
# the run it would have been). Seed by seed, so that the table fills evenly. RUNS: where the runs go.

RUNS=${RUNS:-runs/mujoco-1m}
for seed in 1 2 3; do
    python benchmarks/run.py --scripts ddpg_continuous.py td3_continuous.py sac_continuous.py \
        --env-ids HalfCheetah-v4 Hopper-v4 Walker2d-v4 --seeds "$seed" --runs-dir "$RUNS" --workers 2 \
        --checkpoint-frequency 25000 -- --total-timesteps 1000000 --eval-frequency 10000 --eval-episodes 10
done
