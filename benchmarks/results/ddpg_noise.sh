#!/bin/bash
# Study B, DDPG's exploration noise: Gaussian, Ornstein-Uhlenbeck and adaptive parameter noise, each at its
# documented default, seeds 1-3. From the repository root: bash benchmarks/results/ddpg_noise.sh (resumable).
# Budgets: the short tasks as in run_all.sh; MountainCarContinuous-v0 50k steps (its sparse reward is the
# exploration test); HalfCheetah-v4 and Hopper-v4 100k; LunarLanderContinuous-v3 50k. Gaussian noise is the
# script's default: on Pendulum-v1, HalfCheetah-v4 and Hopper-v4 its runs are the committed benchmark's (same
# runs directory, same flags), not rerun.
RUNS=benchmarks/results/runs
VARIANTS=(
    ddpg_continuous.py
    "ddpg-ou=ddpg_continuous.py --exploration-noise-type ou"
    "ddpg-parameter=ddpg_continuous.py --exploration-noise-type parameter"
)
COMMON=(--runs-dir "$RUNS" --seeds 1 2 3 --workers 2 --threads-per-run 1 --scripts "${VARIANTS[@]}")
python benchmarks/run.py "${COMMON[@]}" --env-ids Pendulum-v1 -- \
    --total-timesteps 20000 --learning-starts 1000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --env-ids MountainCarContinuous-v0 -- \
    --total-timesteps 50000 --learning-starts 5000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --env-ids HalfCheetah-v4 Hopper-v4 -- \
    --total-timesteps 100000 --eval-frequency 10000
python benchmarks/run.py "${COMMON[@]}" --env-ids LunarLanderContinuous-v3 -- \
    --total-timesteps 50000 --learning-starts 10000 --eval-frequency 5000
python benchmarks/plot.py --runs-dir "$RUNS" --scripts ddpg_continuous.py ddpg-ou ddpg-parameter \
    --env-ids Pendulum-v1 MountainCarContinuous-v0 HalfCheetah-v4 Hopper-v4 LunarLanderContinuous-v3 \
    --output-dir benchmarks/results/ddpg_noise --update-docs benchmarks/results/ddpg_noise/README.md
