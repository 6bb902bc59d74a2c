#!/usr/bin/env bash
# CleanRL's own scripts on the tasks and budget of our benchmark, for the overlay in results.md.
# CleanRL (commit in cleanrl_commit.txt) pins gymnasium 0.29.1 and mujoco 2.3.3, so it runs in its own venv:
#   git clone https://github.com/vwxyzjn/cleanrl $CLEANRL && python3 -m venv $CLEANRL/venv
#   $CLEANRL/venv/bin/pip install torch==2.13.0 "gymnasium[mujoco]==0.29.1" mujoco==2.3.3 "numpy<2" tyro tensorboard
# Usage: CLEANRL=/path/to/cleanrl [ENV_IDS="Hopper-v4"] bash benchmarks/results/cleanrl/run_cleanrl.sh [ALGOS...]
# Resumable: a run with a `done` file is skipped; an unfinished one starts over. One torch thread per run.
set -u
cd "$(dirname "$0")"
CLEANRL=${CLEANRL:-/work/cleanrl}
algos=${*:-td3 ddpg sac}
git -C "$CLEANRL" rev-parse HEAD > cleanrl_commit.txt
for env_id in ${ENV_IDS:-HalfCheetah-v4 Hopper-v4}; do
  for seed in 1 2 3; do
    for algo in $algos; do
      run="${env_id}__${algo}_continuous_action__${seed}"
      [ -f "$run/done" ] && continue
      rm -rf "$run" && mkdir -p "$run"
      echo "$(date +%T) $run"
      (cd "$run" && OMP_NUM_THREADS=1 PYTHONPATH="$CLEANRL" "$CLEANRL/venv/bin/python" \
        "$CLEANRL/cleanrl/${algo}_continuous_action.py" --env-id "$env_id" --seed "$seed" \
        --total-timesteps 100000 > log.txt 2>&1) && touch "$run/done" || echo "FAILED $run"
    done
  done
done
