#!/bin/bash
# Study B, DDPG's exploration noise: Gaussian, Ornstein-Uhlenbeck and adaptive parameter noise, each at its
# documented default, seeds 1-3. From the repository root: bash benchmarks/results/ddpg_noise.sh (resumable).
# Budgets: Pendulum-v1 as in run_all.sh; MountainCarContinuous-v0 50k steps (its sparse reward is the
# exploration test); HalfCheetah-v4 and Hopper-v4 100k; LunarLanderContinuous-v3 50k. Gaussian noise is the
# script's default: on Pendulum-v1, HalfCheetah-v4 and Hopper-v4 its runs are the main benchmark's (run_all.sh;
# on the MuJoCo tasks the first 100k steps of its 1M-step runs, read by plot.py's --first-steps), not run again.
STUDY=benchmarks/results/ddpg_noise
OU="ddpg-ou=ddpg_continuous.py --exploration-noise-type ou"
PARAMETER="ddpg-parameter=ddpg_continuous.py --exploration-noise-type parameter"
COMMON=(--runs-dir "$STUDY/runs" --seeds 1 2 3 --workers 2 --threads-per-run 1)
python benchmarks/run.py "${COMMON[@]}" --scripts "$OU" "$PARAMETER" --env-ids Pendulum-v1 -- \
    --total-timesteps 20000 --learning-starts 1000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --scripts ddpg_continuous.py "$OU" "$PARAMETER" \
    --env-ids MountainCarContinuous-v0 -- --total-timesteps 50000 --learning-starts 5000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --scripts "$OU" "$PARAMETER" --env-ids HalfCheetah-v4 Hopper-v4 -- \
    --total-timesteps 100000 --eval-frequency 10000
python benchmarks/run.py "${COMMON[@]}" --scripts ddpg_continuous.py "$OU" "$PARAMETER" \
    --env-ids LunarLanderContinuous-v3 -- --total-timesteps 50000 --learning-starts 10000 --eval-frequency 5000
python benchmarks/compact.py "$STUDY/runs" --keep-every 10
python benchmarks/plot.py --runs-dir benchmarks/results/runs "$STUDY/runs" --first-steps 100000 \
    --env-ids Pendulum-v1 MountainCarContinuous-v0 HalfCheetah-v4 Hopper-v4 LunarLanderContinuous-v3 \
    --scripts ddpg_continuous.py ddpg-ou ddpg-parameter --output-dir "$STUDY" --update-docs "$STUDY/README.md"
