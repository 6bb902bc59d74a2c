#!/bin/bash
# The committed benchmark, from the repository root: bash benchmarks/results/run_all.sh
# Resumable: run it again after a stop and it continues where it was (see benchmarks/README.md).

RUNS=benchmarks/results/runs
COMMON=(--scripts ddpg_continuous.py td3_continuous.py sac_continuous.py --seeds 1 2 3 --runs-dir "$RUNS" --workers 2)
# Short tasks: learning starts early, or the random phase would take most of the budget.
python benchmarks/run.py "${COMMON[@]}" --env-ids Pendulum-v1 -- \
    --total-timesteps 20000 --learning-starts 1000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --env-ids InvertedPendulum-v4 -- \
    --total-timesteps 30000 --learning-starts 5000 --eval-frequency 5000
# MuJoCo locomotion, 100k steps, every other flag at the scripts' defaults.
python benchmarks/run.py "${COMMON[@]}" --env-ids HalfCheetah-v4 Hopper-v4 Walker2d-v4 -- \
    --total-timesteps 100000 --eval-frequency 10000
# Figures, table, the results sections of the docs, and the Q-value figures of docs/td3.md and docs/ddpg.md
# (--scripts and --env-ids: the plain scripts on these tasks; the same runs directory also holds the studies' runs)
python benchmarks/plot.py --runs-dir "$RUNS" --scripts ddpg_continuous.py td3_continuous.py sac_continuous.py \
    --env-ids Pendulum-v1 InvertedPendulum-v4 HalfCheetah-v4 Hopper-v4 Walker2d-v4 --output-dir benchmarks/results \
    --update-docs docs/*.md benchmarks/results/README.md --q-values Hopper-v4 HalfCheetah-v4
# CleanRL's TD3 beside ours on HalfCheetah-v4 and Hopper-v4, seeds 1-3, 100k steps: the runs of
# cleanrl/run_cleanrl.sh (CleanRL's own scripts in their own environment, see that file), compared by their
# training returns (charts/episodic_return, which both log: CleanRL does not evaluate). --min-steps leaves
# out CleanRL runs still going; redraw after more have finished.
python benchmarks/plot.py --runs-dir "$RUNS" benchmarks/results/cleanrl --env-ids HalfCheetah-v4 Hopper-v4 \
    --scripts td3_continuous.py td3_continuous_action --final training --min-steps 99900 \
    --output-dir benchmarks/results/cleanrl_overlay
