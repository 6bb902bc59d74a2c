#!/bin/bash
# The committed benchmark, from the repository root: bash benchmarks/results/run_all.sh
# Resumable: run it again after any stop and every run continues from its last checkpoint (see
# benchmarks/README.md); finished runs are skipped. Two runs at a time, one torch thread each (the same seed
# and one thread give the same numbers on the same kind of processor). About 60 CPU-hours, almost all of it
# the 1M-step runs: about 29 hours on 2 cores.

RUNS=benchmarks/results/runs
COMMON=(--scripts ddpg_continuous.py td3_continuous.py sac_continuous.py --runs-dir "$RUNS" --workers 2 --threads-per-run 1)
# Short tasks: learning starts early, or the random phase would take most of the budget.
python benchmarks/run.py "${COMMON[@]}" --seeds 1 2 3 --env-ids Pendulum-v1 -- \
    --total-timesteps 20000 --learning-starts 1000 --eval-frequency 5000
python benchmarks/run.py "${COMMON[@]}" --seeds 1 2 3 --env-ids InvertedPendulum-v4 -- \
    --total-timesteps 30000 --learning-starts 5000 --eval-frequency 5000
# MuJoCo locomotion at the papers' budget, 1M steps, every other flag at the scripts' defaults; all seed-1 runs
# first, then seed 2, then seed 3, so that the table fills evenly. A checkpoint with the replay buffer every
# 25k steps, so that a stopped run loses little and resumes as the run it would have been.
for seed in 1 2 3; do
    python benchmarks/run.py "${COMMON[@]}" --seeds "$seed" --env-ids HalfCheetah-v4 Hopper-v4 Walker2d-v4 \
        --checkpoint-frequency 25000 -- --total-timesteps 1000000 --eval-frequency 10000 --eval-episodes 10
done
# The 1M-step runs' logs made small enough to commit: every episode and evaluation, every 10th value of the
# rest (the short tasks' logs are small, and tests/test_replay.py compares every logged loss of one of them).
python benchmarks/compact.py "$RUNS"/{HalfCheetah,Hopper,Walker2d}-v4__* --keep-every 10
# Figures, tables, runs.csv, the results sections of the docs, and the Q-value figures of docs/td3.md and
# docs/ddpg.md.
python benchmarks/plot.py --runs-dir "$RUNS" --env-ids Pendulum-v1 InvertedPendulum-v4 HalfCheetah-v4 Hopper-v4 \
    Walker2d-v4 --output-dir benchmarks/results --update-docs docs/*.md benchmarks/results/README.md \
    --q-values Hopper-v4 HalfCheetah-v4
# The same runs' first 100k steps, as 100k-step runs (nothing in the scripts depends on --total-timesteps).
python benchmarks/plot.py --runs-dir "$RUNS" --env-ids HalfCheetah-v4 Hopper-v4 Walker2d-v4 --first-steps 100000 \
    --output-dir benchmarks/results/first_100k
# CleanRL's TD3 beside ours at 100k steps on HalfCheetah-v4 and Hopper-v4, seeds 1-3: the runs of
# cleanrl/run_cleanrl.sh (CleanRL's own script in its own environment, see that file), compared by their
# training returns (charts/episodic_return, which both log: CleanRL does not evaluate).
python benchmarks/plot.py --runs-dir "$RUNS" benchmarks/results/cleanrl --env-ids HalfCheetah-v4 Hopper-v4 \
    --scripts td3_continuous.py td3_continuous_action --final training --first-steps 100000 --min-steps 99900 \
    --output-dir benchmarks/results/cleanrl_overlay
# The studies: their variants' runs, and their figures and tables with these runs' first 100k steps as the
# baselines.
bash benchmarks/results/td3_ablation.sh
bash benchmarks/results/ddpg_noise.sh
