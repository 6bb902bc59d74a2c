#!/bin/bash
# Study B, DDPG's exploration noise: Gaussian, Ornstein-Uhlenbeck and adaptive parameter noise, each at its
# documented default, seeds 1-3. From the repository root: bash benchmarks/results/ddpg_noise.sh (resumable).
# Budgets: the short tasks as in run_all.sh; MountainCarContinuous-v0 50k steps (its sparse reward is the
# exploration test); LunarLanderContinuous-v3, HalfCheetah-v4 and Hopper-v4 100k.
RUNS=benchmarks/results/runs_ddpg_noise
VARIANTS=(
    "ddpg-gaussian=ddpg_continuous.py --exploration-noise-type gaussian"
    "ddpg-ou=ddpg_continuous.py --exploration-noise-type ou"
    "ddpg-parameter=ddpg_continuous.py --exploration-noise-type parameter"
)
COMMON=(--runs-dir "$RUNS" --seeds 1 2 3 --workers 2 --scripts "${VARIANTS[@]}")
python benchmarks/run.py "${COMMON[@]}" --env-ids Pendulum-v1 -- \
    --total-timesteps 20000 --learning-starts 1000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --env-ids MountainCarContinuous-v0 -- \
    --total-timesteps 50000 --learning-starts 5000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --env-ids LunarLanderContinuous-v3 HalfCheetah-v4 Hopper-v4 -- \
    --total-timesteps 100000 --eval-frequency 10000
python benchmarks/plot.py --runs-dir "$RUNS" --output-dir benchmarks/results/ddpg_noise
