"""Plot learning curves and tabulate final returns of TensorBoard runs, with statistics that say what they are.

    python benchmarks/plot.py --runs-dir runs/benchmark --output-dir runs/benchmark/report

Reads every run under the `--runs-dir` directories: the runs of `benchmarks/run.py` (a `result.json`
next to the script's TensorBoard directory), plain `runs/` directories of the scripts (run directories
named `{env}__{exp_name}__{seed}__{unixtime}`, with the scripts' `args.json`) and CleanRL's runs (the
same names and tags, no `args.json`). Runs are grouped by env and by script or experiment name, shown
as DDPG, TD3 and SAC for this project's scripts and "CleanRL TD3" and so on for CleanRL's
`*_continuous_action` scripts. A run whose log or `result.json` is damaged, or that has not finished, is
left out with one line on stderr saying which and why. It writes each figure as PNG, PDF and SVG
(`--format`: only some of them), sized for a paper's column (3.5 inches a panel, text of 8 points and
more), each algorithm in one colour in every figure:
- `<env>.png`: per algorithm, the mean over seeds of each run's recent training return (the mean of its
  last 10 episodes at that point) as a thick line over a thin line per seed, against environment steps
  or (`--x time`) wall-clock hours; `all_envs.png` the same for every env, at most 3 panels a row;
  `<env>_evaluation.png` and `all_envs_evaluation.png` the evaluations' returns (`--eval-frequency`),
  drawn at the evaluation points, a marker at each, if every run has them. Each figure has one legend
  and a caption saying what the lines are;
- `runs.csv`: one row per run: its env, name, seed, last logged step, last evaluation, mean of its last 5
  evaluations and of its last 10 training episodes, wall time, and the commit that made it (`result.json`);
- `results.md`: per env and algorithm, the final return of its n runs as mean ± sample standard
  deviation (ddof=1) and the standard error of the mean (a run's final return is its last evaluation's
  mean when it has evaluations, else the mean of its last 10 training episodes; the table says which),
  and the wall time per run. Then the aggregate across tasks of Agarwal et al. (2021, "Deep RL at the edge
  of the statistical precipice"), computed by their library `rliable`: over the tasks whose reference is
  the TD3 paper's 1M-step result (`AGGREGATE_TASKS`), each run scored by the mean of its last 5
  evaluations normalised as (score - random policy) / (reference - random policy), the interquartile mean
  (IQM) and the mean of all runs on all tasks with 95% stratified bootstrap intervals (50,000 resamples),
  the same for the last evaluation alone, and the probability of improvement of each pair of algorithms.
  Then ours beside the published results, each under its own metric: the TD3 paper's and Tianshou's
  benchmark's (the maximum over training of the mean evaluation return over the seeds) and CleanRL's (each
  run's mean return over its last 100 training episodes), each seed's value given, the spread with ddof=0 as
  theirs; below all, the machines, versions and commits of the runs;
- `aggregate.png`: those IQMs and means with their intervals, and the performance profile (the fraction
  of runs whose normalised score exceeds tau, against tau) with its 95% stratified bootstrap band;
- with `--q-values ENV ...`, `q_values_<env>.png` for those envs: the critics' mean Q-value as logged
  (`losses/qf1_values`) of each algorithm, above its evaluation return, to show overestimation; and in
  `results.md` a table of those envs: per algorithm, the critic's mean Q-value over the last 10% of the
  steps beside what a critic should predict for the states of the training episodes of the same steps
  (`discounted_state_value`), and their ratio.
"""

import contextlib
import csv
import json
import math
import os
import re
import shlex
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import tyro
from common import SCRIPTS, checked_scalar_events
from matplotlib.ticker import MultipleLocator
from rliable import library as rly
from rliable import metrics

RECENT_EPISODES = 10  # a run's return at a step: the mean of its last 10 episodes
RECENT_Q_VALUES = 10  # a run's Q-value at a step: the mean of its last 10 logged values (1,000 updates)
Q_TABLE_LAST = 0.1  # the Q-value table compares a run's last 10% of steps
GRID_POINTS = 100
BOOTSTRAP_SAMPLES = 50_000  # resamples of the aggregate's intervals: rliable's default for its interval estimates
PROFILE_POINTS = 201  # values of tau in the performance profile
SCORE_EVALUATIONS = 5  # a run's score in the aggregate: the mean of its last 5 evaluations

# ---------------------------------------------------------------------------------------
# Normalisation of the scores across tasks: (return - random) / (reference - random)
# ---------------------------------------------------------------------------------------
RANDOM_EPISODES = 10
RANDOM_SEED = 0
# The mean return of a policy that samples its actions uniformly from the action space, over 10 episodes
# (episode i resets with seed i, the action space is seeded with 0), as `random_policy_return` measures it.
# Measured with gymnasium 1.4.0 and mujoco 3.8.1 by
#     OMP_NUM_THREADS=1 python benchmarks/plot.py --measure-random-returns \
#         Pendulum-v1 InvertedPendulum-v4 HalfCheetah-v4 Hopper-v4 Walker2d-v4
# and checked by tests/test_plot.py (which measures InvertedPendulum-v4 again).
RANDOM_RETURNS = {
    "Pendulum-v1": -1225.28,
    "InvertedPendulum-v4": 6.10,
    "HalfCheetah-v4": -245.96,
    "Hopper-v4": 32.09,
    "Walker2d-v4": 5.76,
}
RANDOM_SOURCE = (
    f"the mean return of {RANDOM_EPISODES} episodes of a uniformly random policy, measured with "
    "`OMP_NUM_THREADS=1 python benchmarks/plot.py --measure-random-returns ENV ...` "
    "(episode i reset with seed i, gymnasium 1.4.0, mujoco 3.8.1)"
)
# The best published 1M-step returns: the TD3 row of Table 1 of Fujimoto et al. 2018, "Addressing Function
# Approximation Error in Actor-Critic Methods", arXiv:1802.09477 (max average evaluation return over 1M
# steps, 10 seeds, MuJoCo v1 environments). Pendulum-v1 is not in it: its rewards are at most 0, so 0 bounds
# every return and stands in as its reference.
REFERENCE_RETURNS = {
    "Pendulum-v1": 0.0,
    "InvertedPendulum-v4": 1000.00,
    "HalfCheetah-v4": 9636.95,
    "Hopper-v4": 3564.07,
    "Walker2d-v4": 4682.82,
}
REFERENCE_SOURCE = (
    "the TD3 row of Table 1 of Fujimoto et al. 2018 (arXiv:1802.09477): TD3's best average evaluation "
    "return over 1M steps, 10 seeds, MuJoCo v1 environments; Pendulum-v1 is not in it, its reference is "
    "0, the upper bound of its returns (its rewards are at most 0)"
)
# The aggregate's tasks: those whose reference means the same thing, a published 1M-step result that a good
# run approaches. The others stay in the per-task tables, and `results.md` says why they are not aggregated.
AGGREGATE_TASKS = ("HalfCheetah-v4", "Hopper-v4", "Walker2d-v4")
NOT_AGGREGATED = {
    "Pendulum-v1": "its reference, 0, is a bound of the returns that no policy reaches, not a published result",
    "InvertedPendulum-v4": "its reference, 1000, is the most an episode can return, which most runs reach",
}


# ---------------------------------------------------------------------------------------
# Published results, each under its own metric
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    """One source's published returns: by algorithm, by env id as it names it (its version included), the
    mean and the standard deviation over its seeds (None where it gives none)."""

    source: str  # who, where
    metric: str  # what its numbers are
    ours: str  # what of ours is computed the same way
    returns: dict[str, dict[str, tuple[float, float | None]]]
    decimals: int = 2  # as many as the source prints, so that a number is shown as it was published


# The TD3 paper's metric, which Tianshou's benchmark also uses: of our runs, computed by `best_mean_evaluation`.
MAX_AVERAGE_OURS = "the maximum over the evaluations of the mean over the seeds, ± std (ddof=0) over the seeds there"

# Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic Methods", arXiv:1802.09477,
# Table 1: "Max Average Return over 10 trials of 1 million time steps", gym MuJoCo v1, ± one standard deviation
# over the trials; evaluations every 5,000 steps, 10 episodes each, without exploration noise. Checked against
# the paper's text, and for TD3 recomputed from the learning curves the authors published with it
# (learning_curves/ of https://github.com/sfujim/TD3 at commit 34770cc, 10 seeds x 201 evaluations): each number
# is the highest, over the evaluations at 5,000 to 1M steps, of the mean over the 10 seeds, and its ± is the
# population std (ddof=0) of the 10 seeds at that evaluation (e.g. Hopper: 3564.07 and 114.738 at 970,000 steps).
# DDPG: its "Our DDPG" column (the authors' DDPG of 2018: 400-300 networks, Adam 1e-3, batches of 100; ours
# follows their OurDDPG.py of today, 256-256, Adam 3e-4), which gives no ± (CleanRL's docs add "± 0.00" to its
# InvertedPendulum; the paper does not).
TD3_PAPER = Published(
    source="TD3 paper, Table 1 (Fujimoto et al. 2018, arXiv:1802.09477); DDPG: its 'Our DDPG' column",
    metric="the maximum over 1M steps of the mean evaluation return over 10 seeds, ± std (ddof=0) over the seeds",
    ours=MAX_AVERAGE_OURS,
    returns={
        "TD3": {
            "HalfCheetah-v1": (9636.95, 859.065), "Hopper-v1": (3564.07, 114.74),
            "Walker2d-v1": (4682.82, 539.64), "InvertedPendulum-v1": (1000.00, 0.00),
        },
        "DDPG": {
            "HalfCheetah-v1": (8577.29, None), "Hopper-v1": (1860.02, None),
            "Walker2d-v1": (3098.11, None), "InvertedPendulum-v1": (1000.00, None),
        },
    },
)  # fmt: skip
# CleanRL's documentation at commit fe8d8a0 (docs/rl-algorithms/{td3,ddpg,sac}.md of
# https://github.com/vwxyzjn/cleanrl, shown at https://docs.cleanrl.dev/rl-algorithms/td3/ and so on), whose
# tables came with commit 35896b1 (PR #424) and are unchanged since. They were made by openrlbenchmark's rlops
# (benchmark/{td3,ddpg,sac}_plot.sh): per run, the mean of its last 100 training episodic returns (with
# exploration noise; `metric_last_n_average_window`, 100 by default), then the mean and numpy's std (ddof=0) of
# those over the 3 seeds of 1M steps. Gym MuJoCo v4: SAC's table labels its locomotion tasks v2, but PR #424
# replaced the v2 numbers with those of its runs (tag pr-424), which benchmark/sac.sh and sac_plot.sh made and
# plotted on v4 only (the same PR removed mujoco_py, which v2 needs), so v4 is what they are.
CLEANRL_EPISODES = 100
CLEANRL_DOCS = Published(
    source="CleanRL's docs (commit fe8d8a0, docs.cleanrl.dev/rl-algorithms/{td3,ddpg,sac}/)",
    metric=(
        f"each run's mean training episodic return over its last {CLEANRL_EPISODES} episodes of 1M steps, "
        "mean ± std (ddof=0) over 3 seeds"
    ),
    ours=f"the mean of each run's last {CLEANRL_EPISODES} training episodes: mean ± std (ddof=0) over the seeds",
    returns={
        "TD3": {
            "HalfCheetah-v4": (9583.22, 126.09), "Hopper-v4": (3134.61, 360.18),
            "Walker2d-v4": (4057.59, 658.78), "InvertedPendulum-v4": (968.99, 25.80),
        },
        "DDPG": {
            "HalfCheetah-v4": (10374.07, 157.37), "Hopper-v4": (1576.78, 818.98),
            "Walker2d-v4": (1240.16, 390.10), "InvertedPendulum-v4": (642.68, 69.56),
        },
        "SAC": {
            "HalfCheetah-v4": (9634.89, 1423.73), "Hopper-v4": (2310.46, 342.82),
            "Walker2d-v4": (3591.45, 911.33), "InvertedPendulum-v4": (909.37, 55.66),
        },
    },
)  # fmt: skip
# Tianshou's MuJoCo benchmark: the "Tianshou (1M)" columns of the DDPG, TD3 and SAC tables of
# examples/mujoco/README.md of https://github.com/thu-ml/tianshou, which came with commit e605bde (March 2021,
# the code they measured) and are unchanged at f240205 (April 2026). Its footnote on the metric: the max average
# return over 10 trials (seeds 1 to 10, run_experiments.sh) ± one standard deviation over them, each evaluation
# the mean of 10 test episodes, within the first 1M steps: the TD3 paper's metric, which it cites. Its scripts
# evaluate after every epoch of 5,000 steps (200 epochs), without exploration noise. Gym 0.17.3 with mujoco-py
# (MuJoCo 2.0): the locomotion tasks v3, InvertedPendulum v2. The std's ddof is not said; the tools Tianshou
# added in April 2021 to make such tables (examples/mujoco/tools.py, analysis.py) take numpy's, ddof=0.
TIANSHOU_BENCHMARK = Published(
    source="Tianshou's MuJoCo benchmark (examples/mujoco/README.md of thu-ml/tianshou, commit e605bde)",
    metric=(
        "the maximum over 1M steps (evaluations of 10 episodes every 5,000 steps) of the mean evaluation return "
        "over 10 seeds, ± std over the seeds (its ddof not said; 0 in the tools Tianshou makes such tables with)"
    ),
    ours=MAX_AVERAGE_OURS,
    returns={
        "DDPG": {
            "HalfCheetah-v3": (11718.7, 465.6), "Hopper-v3": (2197.0, 971.6),
            "Walker2d-v3": (1400.6, 905.0), "InvertedPendulum-v2": (1000.0, 0.0),
        },
        "TD3": {
            "HalfCheetah-v3": (10201.2, 772.8), "Hopper-v3": (3472.2, 116.8),
            "Walker2d-v3": (3982.4, 274.5), "InvertedPendulum-v2": (1000.0, 0.0),
        },
        "SAC": {
            "HalfCheetah-v3": (12138.8, 1049.3), "Hopper-v3": (3542.2, 51.5),
            "Walker2d-v3": (5007.0, 251.5), "InvertedPendulum-v2": (1000.0, 0.0),
        },
    },
    decimals=1,
)  # fmt: skip


def random_policy_return(env_id: str, episodes: int = RANDOM_EPISODES, seed: int = RANDOM_SEED) -> float:
    """The mean return of `episodes` episodes of uniformly random actions; episode i resets with `seed + i`."""
    import gymnasium as gym

    env = gym.make(env_id)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def normalised(env_id: str, returns) -> np.ndarray:
    """Returns as a fraction of the way from the random policy (0) to the reference (1)."""
    random, reference = RANDOM_RETURNS[env_id], REFERENCE_RETURNS[env_id]
    return (np.asarray(returns, dtype=float) - random) / (reference - random)


@dataclass
class Args:
    runs_dir: list[Path] = field(default_factory=lambda: [Path("runs/benchmark")])
    """directories of runs, each searched through: `benchmarks/run.py`'s, the scripts' `runs/`, CleanRL's"""
    output_dir: Path | None = None
    """where the figures and the table go (None: the first runs directory)"""
    env_ids: list[str] = field(default_factory=list)
    """only these envs (none given: every env of the runs)"""
    scripts: list[str] = field(default_factory=list)
    """only these scripts or experiment names, e.g. `td3_continuous.py td3_continuous_action` (none given: all)"""
    x: Literal["steps", "time"] = "steps"
    """the curves' x-axis: environment steps, or wall-clock hours since each run's first logged event"""
    format: tuple[Literal["png", "pdf", "svg"], ...] = ("png", "pdf", "svg")
    """the figures' file formats, each figure written in each (results.md links the first)"""
    final: Literal["auto", "training"] = "auto"
    """a run's final return: `auto` its last evaluation if it has evaluations, else the mean of its last 10
    training episodes; `training` always the latter (to compare with runs that do not evaluate, as CleanRL's)"""
    min_steps: int = 0
    """leave out runs whose logs end before this step (runs still going, e.g. CleanRL's, which say nothing
    of their budget; this project's scripts are checked against the `total_timesteps` of their `args.json`)"""
    first_steps: int | None = None
    """read the runs of a larger budget (`total_timesteps` in their `args.json`) only to this step, as runs of
    this budget (the first 100k steps of a 1M-step run are a 100k-step run: nothing in the scripts depends on
    --total-timesteps but when they stop), and leave out those that have not reached it; other runs as usual"""
    seed: int = 0
    """seed of the bootstrap"""
    bootstrap_samples: int = BOOTSTRAP_SAMPLES
    """resamples of the aggregate's stratified bootstrap intervals (rliable's default, 50,000)"""
    update_docs: list[Path] = field(default_factory=list)
    """Markdown files whose marked results sections to rewrite from the new table (see `update_docs`)"""
    q_values: list[str] = field(default_factory=list)
    """envs of which to draw `q_values_<env>.png`: each algorithm's logged Q-values above its evaluation returns"""
    measure_random_returns: list[str] = field(default_factory=list)
    """measure the random policy's return of these envs (the constants `RANDOM_RETURNS`), print it and stop"""


# ---------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------
def recent_mean_curve(steps: np.ndarray, returns: np.ndarray, grid: np.ndarray, window: int = RECENT_EPISODES):
    """At each grid step, the mean return of the last `window` episodes that ended by then (NaN before any)."""
    order = np.argsort(steps, kind="stable")
    steps, returns = steps[order], returns[order]
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    ended = np.searchsorted(steps, grid, side="right")  # episodes ended at or before each grid step
    first = np.maximum(ended - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = (cumulative[ended] - cumulative[first]) / (ended - first)
    return np.where(ended > 0, curve, np.nan)


def sample_std(values) -> float:
    """The sample standard deviation (ddof=1, Bessel's correction); NaN for a single value."""
    values = np.asarray(values, dtype=float)
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def population_std(values) -> float:
    """The standard deviation with ddof=0, numpy's default, which is how the published tables beside ours give
    theirs; NaN for a single value, whose spread is unknown rather than 0."""
    values = np.asarray(values, dtype=float)
    return float(np.std(values)) if len(values) > 1 else float("nan")


def standard_error(values) -> float:
    """The standard error of the mean: the sample standard deviation over the square root of n."""
    return sample_std(values) / np.sqrt(len(values))


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle 50%, after dropping floor(n / 4) values at each end
    (rliable's `aggregate_iqm`, `scipy.stats.trim_mean(values, 0.25)`)."""
    return float(metrics.aggregate_iqm(np.asarray(values, dtype=float)))


def resamples(values, rng: np.random.Generator, samples: int = 2000) -> np.ndarray:
    """`samples` resamples of the values (rows of an array), each drawn with replacement, as many as there are."""
    values = np.asarray(values, dtype=float)
    return values[rng.integers(0, len(values), size=(samples, len(values)))]


def percentile_interval(estimates: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap estimates (over their first axis)."""
    tail = 100 * (1 - confidence) / 2
    return np.percentile(estimates, tail, axis=0), np.percentile(estimates, 100 - tail, axis=0)


def bootstrap_interval(values, statistic, rng: np.random.Generator, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `values` resampled with replacement (one stratum).

    Not used: per task, with 3 seeds it is [min, max] of the seeds (an all-minimum resample has probability
    1/27 > 2.5%); across tasks, `interval_estimates` uses rliable's stratified bootstrap.
    """
    low, high = percentile_interval(np.array([statistic(sample) for sample in resamples(values, rng)]), confidence)
    return float(low), float(high)


def mean_band(curves: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (rows) at each grid point, and its 95% percentile-bootstrap band over runs.

    Not drawn: with a few seeds it is the min-max band under another name; the figures draw each seed.
    """
    low, high = percentile_interval(resamples(curves, rng).mean(axis=1))
    return curves.mean(axis=0), low, high


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """For each tau, the fraction of runs whose score exceeds tau; scores [..., runs] give [..., taus]."""
    scores = np.asarray(scores, dtype=float)
    return (scores[..., None, :] > np.asarray(taus)[:, None]).mean(axis=-1)


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rliable's performance profile of a [runs, tasks] matrix (`library.score_distributions`): for each tau, the
    fraction of all runs of all tasks scoring above it; the same numbers in one array operation, where
    rliable's makes a Python call per tau (201 taus x 50,000 resamples)."""
    return performance_profile(np.asarray(scores, dtype=float).reshape(-1), taus)


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> np.ndarray:
    """P(X > Y) of two [runs, tasks] matrices: per task, the probability that a run of X scores above a run of
    Y, ties counted half, averaged over the tasks. The same number as rliable's
    `metrics.probability_of_improvement` (per task, the Mann-Whitney U statistic over n_x n_y; a test checks),
    in array operations: rliable's calls SciPy's test per task, about 100 s for 50,000 resamples of 3 tasks."""
    x, y = np.asarray(scores_x, dtype=float)[:, None, :], np.asarray(scores_y, dtype=float)[None, :, :]
    per_task = (x > y).mean(axis=(0, 1)) + (x == y).mean(axis=(0, 1)) / 2
    return np.float64(per_task.mean())


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% stratified bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@contextlib.contextmanager
def numpy_seed(seed: int):
    """rliable draws its resamples from NumPy's global generator: seeded here, and restored afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def interval_estimates(scores: dict, statistics, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict:
    """rliable's `get_interval_estimates`: for each key, the statistics of its scores (a [runs, tasks] matrix,
    or a list of them) with 95% stratified bootstrap percentile intervals (`samples` resamples of the runs
    within each task). `statistics` returns an array of one or more numbers; each is an `Estimate`."""
    with numpy_seed(seed):
        points, intervals = rly.get_interval_estimates(scores, statistics, reps=samples)
    return {
        key: [Estimate(float(value), float(low), float(high)) for value, low, high in
              zip(np.atleast_1d(points[key]), *np.reshape(intervals[key], (2, -1)), strict=True)]
        for key in scores
    }  # fmt: skip


# ---------------------------------------------------------------------------------------
# Reading the runs
# ---------------------------------------------------------------------------------------
@dataclass
class RunLog:
    script: str  # the script (`td3_continuous.py`) or, for other programs' runs, the experiment name
    env_id: str
    seed: int
    wall_time_seconds: float
    episode_steps: np.ndarray
    episode_returns: np.ndarray
    eval_steps: np.ndarray  # the steps of its evaluations (--eval-frequency), if any
    eval_returns: np.ndarray  # and their mean returns
    ran_on: list[str] = field(default_factory=list)  # machine and versions of its attempts, if recorded
    q_steps: np.ndarray = field(default_factory=lambda: np.array([]))  # the steps of its logged Q-values
    q_values: np.ndarray = field(default_factory=lambda: np.array([]))  # and the values: the batch's mean Q_1(s, a)
    # The hours since the run's first logged event at which its episodes, evaluations and Q-values were logged.
    episode_hours: np.ndarray = field(default_factory=lambda: np.array([]))
    eval_hours: np.ndarray = field(default_factory=lambda: np.array([]))
    q_hours: np.ndarray = field(default_factory=lambda: np.array([]))
    source: str = ""  # where it was read from
    episode_lengths: np.ndarray = field(default_factory=lambda: np.array([]))  # of its training episodes
    gamma: float = 0.99  # its discount factor (args.json; 0.99, the default of every script, without one)
    last_step: int = 0  # the last step it logged anything at
    code: dict = field(default_factory=dict)  # commit, dirty, script_sha256 from result.json, where recorded

    @property
    def evaluation(self) -> float | None:
        """The last evaluation's mean return, if the run evaluated."""
        return float(self.eval_returns[-1]) if len(self.eval_returns) else None

    def curve_data(self, curve: str, x: str = "steps") -> tuple[np.ndarray, np.ndarray, int]:
        """x (steps or hours), values and averaging window of its "training", "evaluation" or "q_values" curve."""
        if curve == "training":
            data = self.episode_steps, self.episode_hours, self.episode_returns, RECENT_EPISODES
        elif curve == "q_values":
            data = self.q_steps, self.q_hours, self.q_values, RECENT_Q_VALUES
        else:
            data = self.eval_steps, self.eval_hours, self.eval_returns, 1  # each evaluation averages episodes
        steps, hours, values, window = data
        return (hours if x == "time" else steps), values, window


# A run directory of the scripts and of CleanRL: {env_id}__{exp_name}__{seed}__{unixtime}
RUN_NAME = re.compile(r"(?P<env_id>.+?)__(?P<exp_name>.+)__(?P<seed>\d+)__(?P<time>\d+)")
RUNNER_RUN_NAME = re.compile(r"(?P<env_id>.+?)__(?P<name>.+)__(?P<seed>\d+)")  # benchmarks/run.py's run directories


CODE_KEYS = ("commit", "dirty", "script_sha256")  # what benchmarks/run.py records of the code in result.json


@dataclass
class Found:
    """A run found on disk, before its log is read."""

    log_dir: Path
    script: str
    env_id: str
    seed: int
    wall_time_seconds: float | None = None  # from result.json
    ran_on: list[str] = field(default_factory=list)
    total_timesteps: int | None = None  # from args.json
    finished: bool = False  # result.json says so: a cut-off log is damage, not a run still writing
    code: dict = field(default_factory=dict)  # which code made it: result.json's commit, dirty, script_sha256


def display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def find_runs(root: Path, skip) -> list[Found]:
    """The runs under `root`; `skip(path, why)` is told of each one that cannot be read."""
    found, claimed = [], []
    for result_path in sorted(root.rglob("result.json")):
        run_dir = result_path.parent
        claimed.append(run_dir)  # its TensorBoard directory is this run's, found or not
        try:
            result = json.loads(result_path.read_text())
            found.append(
                Found(
                    run_dir / result["tensorboard_dir"], result.get("variant") or result["script"], result["env_id"],
                    int(result["seed"]),
                    float(result["wall_time_seconds"]), result.get("ran_on", []), finished=True,
                    code={key: result[key] for key in CODE_KEYS if key in result},
                )
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as error:
            why = f"{type(error).__name__}: {error}" if not isinstance(error, KeyError) else f"no {error} in it"
            skip(result_path, f"unreadable result.json ({why})")
    log_dirs = sorted({path.parent for path in root.rglob("*tfevents*") if path.is_file()})
    for log_dir in log_dirs:
        if any(log_dir.is_relative_to(run_dir) for run_dir in claimed):
            continue
        args_path, match = log_dir / "args.json", RUN_NAME.fullmatch(log_dir.name)
        if args_path.exists():  # this project's scripts
            try:
                args = json.loads(args_path.read_text())
                exp_name = args["exp_name"]
                runner_name = (
                    RUNNER_RUN_NAME.fullmatch(log_dir.parent.parent.name) if log_dir.parent.name == "runs" else None
                )
                if runner_name and runner_name["name"] != exp_name:  # a named variant's: only result.json names it
                    skip(log_dir, "its benchmarks/run.py run has not finished (no result.json)")
                    continue
                script = f"{exp_name}.py" if f"{exp_name}.py" in SCRIPTS else exp_name
                found.append(
                    Found(
                        log_dir, script, args["env_id"], int(args["seed"]), total_timesteps=args.get("total_timesteps")
                    )
                )
            except (OSError, ValueError, KeyError, TypeError) as error:
                skip(args_path, f"unreadable args.json ({type(error).__name__}: {error})")
        elif match:  # CleanRL's, or another program's that names its runs the same way
            found.append(Found(log_dir, match["exp_name"], match["env_id"], int(match["seed"])))
        else:
            skip(log_dir, "neither args.json nor a name {env_id}__{exp_name}__{seed}__{unixtime}")
    return found


PAUSE_SECONDS = 900  # a silence this long in a run's log is a stopped run waiting to resume, not work


def active_seconds(events: dict) -> float:
    """The wall time that a run's logged events span, less its pauses (silences over PAUSE_SECONDS). A run logs an
    episode, a loss or its speed every few seconds while it works; stopped, nothing until it resumes."""
    times = np.sort([event.wall_time for tag_events in events.values() for event in tag_events])
    gaps = np.diff(times)
    return float(gaps[gaps <= PAUSE_SECONDS].sum())


def first_steps_of(events: dict, last_step: int, first_steps: int) -> dict:
    """The events of a run's first `first_steps` steps; ValueError if it has not logged that far."""
    if last_step < first_steps:
        raise ValueError(f"logged up to step {last_step:,}, under --first-steps {first_steps:,}")
    return {tag: [e for e in tag_events if e.step <= first_steps] for tag, tag_events in events.items()}


def read_run(run: Found, min_steps: int, first_steps: int | None = None) -> RunLog:
    """The run's log (only its first `first_steps` steps if its budget is larger); ValueError says why it cannot
    be used."""
    events = checked_scalar_events(run.log_dir, complete=run.finished)
    if not events.get("charts/episodic_return"):
        raise ValueError("no training episodes logged (charts/episodic_return)")
    last_step = max(event.step for tag_events in events.values() for event in tag_events)
    args_path = run.log_dir / "args.json"
    args = json.loads(args_path.read_text()) if args_path.exists() else {}
    wall_time_seconds, budget = run.wall_time_seconds, args.get("total_timesteps")
    if first_steps is not None and budget is not None and budget > first_steps:  # cut: the wall time to the cut
        events, wall_time_seconds = first_steps_of(events, last_step, first_steps), None
        last_step = max(event.step for tag_events in events.values() for event in tag_events)
    elif run.total_timesteps is not None and last_step < run.total_timesteps and not run.finished:
        raise ValueError(
            f"unfinished: logged up to step {last_step:,} of its --total-timesteps {run.total_timesteps:,}"
        )
    if last_step < min_steps:
        raise ValueError(f"logged up to step {last_step:,}, under --min-steps {min_steps:,}")
    start = min(event.wall_time for tag_events in events.values() for event in tag_events)
    # The runner's record of an attempt killed with it (a machine lost) is up to a minute short, and missing
    # in runs made before the record was kept while running; the events miss the start-up: the larger of the two.
    wall_time_seconds = max(wall_time_seconds or 0.0, active_seconds(events))

    def columns(tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tag_events = events.get(tag, [])
        return (
            np.array([e.step for e in tag_events], dtype=float),
            np.array([e.value for e in tag_events], dtype=float),
            np.array([(e.wall_time - start) / 3600 for e in tag_events], dtype=float),
        )

    (episode_steps, episode_returns, episode_hours), (eval_steps, eval_returns, eval_hours) = map(
        columns, ("charts/episodic_return", "eval/episodic_return")
    )
    q_steps, q_values, q_hours = columns("losses/qf1_values")
    length_steps, episode_lengths, _ = columns("charts/episodic_length")
    if not np.array_equal(length_steps, episode_steps):  # logged together by every script; else unusable
        episode_lengths = np.array([])
    gamma = float(args.get("gamma", 0.99))
    return RunLog(
        run.script, run.env_id, run.seed, wall_time_seconds,
        episode_steps, episode_returns, eval_steps, eval_returns, run.ran_on, q_steps, q_values,
        episode_hours, eval_hours, q_hours, source=display(run.log_dir), episode_lengths=episode_lengths, gamma=gamma,
        last_step=int(last_step), code=run.code,
    )  # fmt: skip


def same_name(a: str, b: str) -> bool:
    return a.removesuffix(".py") == b.removesuffix(".py")


def read_runs(runs_dirs, env_ids=(), scripts=(), min_steps: int = 0, skip=None, first_steps=None) -> list[RunLog]:
    """Every usable run under these directories (of these envs and scripts, if given; only the first `first_steps`
    steps of each, if given); `skip(path, why)` is told of each run left out (by default a line on stderr)."""
    if skip is None:

        def skip(path: Path, why: str) -> None:
            print(f"plot.py: skipped {display(path)}: {why}", file=sys.stderr)

    runs, seen = [], set()
    for root in [runs_dirs] if isinstance(runs_dirs, (str, Path)) else runs_dirs:
        for run in find_runs(Path(root), skip):
            if run.log_dir.resolve() in seen:
                continue
            seen.add(run.log_dir.resolve())
            if env_ids and run.env_id not in env_ids or scripts and not any(same_name(run.script, s) for s in scripts):
                continue
            try:
                runs.append(read_run(run, min_steps, first_steps))
            except (OSError, ValueError) as error:  # DamagedLogError is a ValueError
                skip(run.log_dir, str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}")
    return runs


def final_return(run: RunLog, final: str = "auto") -> tuple[float, str]:
    """The run's final return, and what it is."""
    if run.evaluation is not None and final == "auto":
        return run.evaluation, "last evaluation"
    return training_return(run), f"last {RECENT_EPISODES} training episodes"


def training_return(run: RunLog, episodes: int = RECENT_EPISODES) -> float:
    """The mean return of the run's last `episodes` training episodes (with exploration noise); CleanRL's
    published tables take each run's last 100 (`CLEANRL_EPISODES`)."""
    return float(run.episode_returns[-episodes:].mean())


def score(run: RunLog, final: str = "auto") -> tuple[float, str]:
    """The run's score in the aggregate, and what it is: the mean of its last 5 evaluations (fewer if it has
    fewer), or, without evaluations or with `final="training"`, the mean of its last 10 training episodes.
    One evaluation is a noisy measure of a policy that changes from one evaluation to the next."""
    if len(run.eval_returns) and final == "auto":
        return float(run.eval_returns[-SCORE_EVALUATIONS:].mean()), f"mean of the last {SCORE_EVALUATIONS} evaluations"
    return final_return(run, final)


def run_name(script: str) -> str:
    """A run's name in `runs.csv`: the script's stem (`td3_continuous`), else the variant's or experiment's name."""
    return Path(script).stem if script.endswith(".py") else script


RUNS_CSV_COLUMNS = (
    "env_id", "name", "seed", "steps", "final_return", "last5_evaluation_return", "last10_training_return",
    "evaluations", "wall_seconds", "commit", "dirty", "script_sha256", "log_dir",
)  # fmt: skip


def runs_csv_row(run: RunLog) -> dict:
    """A run's row of `runs.csv`. steps: the last step it logged; final_return: its last evaluation's mean
    return (empty without evaluations); last5_evaluation_return: the mean of its last 5 evaluations, the
    aggregate's score; last10_training_return: the mean return of its last 10 training episodes (its score
    without evaluations); commit, dirty, script_sha256: the code that made it, as `benchmarks/run.py` records
    it in `result.json` (empty for runs that do not have them)."""
    evaluated = len(run.eval_returns) > 0
    dirty = run.code.get("dirty")
    return {
        "env_id": run.env_id,
        "name": run_name(run.script),
        "seed": run.seed,
        "steps": run.last_step,
        "final_return": f"{run.evaluation:.2f}" if evaluated else "",
        "last5_evaluation_return": f"{run.eval_returns[-SCORE_EVALUATIONS:].mean():.2f}" if evaluated else "",
        "last10_training_return": f"{training_return(run):.2f}",
        "evaluations": len(run.eval_returns),
        "wall_seconds": f"{run.wall_time_seconds:.1f}",
        "commit": run.code.get("commit") or "",
        "dirty": "" if dirty is None else str(bool(dirty)).lower(),
        "script_sha256": run.code.get("script_sha256") or "",
        "log_dir": run.source,
    }


def write_runs_csv(runs: list[RunLog], path: Path) -> Path:
    """`runs.csv`: one row per run (`runs_csv_row`), by env, algorithm and seed as in the tables."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=RUNS_CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for _, _, group in by_task(runs):
            writer.writerows(runs_csv_row(run) for run in sorted(group, key=lambda run: run.seed))
    return path


# ---------------------------------------------------------------------------------------
# Names and styles
# ---------------------------------------------------------------------------------------
ALGORITHMS = {"ddpg_continuous.py": "DDPG", "td3_continuous.py": "TD3", "sac_continuous.py": "SAC"}
CLEANRL = re.compile(r"(?P<algorithm>[a-z0-9]+)_continuous_action(?:_(?P<variant>\w+))?")


def algorithm_name(script: str) -> str:
    """DDPG, TD3 or SAC for this project's scripts, "CleanRL TD3" for CleanRL's, any other name as it is."""
    if script in ALGORITHMS:
        return ALGORITHMS[script]
    match = CLEANRL.fullmatch(script)
    if match:
        return f"CleanRL {match['algorithm'].upper()}" + (f" ({match['variant']})" if match["variant"] else "")
    return script


def ordered(scripts) -> list[str]:
    """This project's scripts in the docs' order (DDPG, TD3, SAC), then the others by name."""
    scripts = set(scripts)
    return [s for s in SCRIPTS if s in scripts] + sorted(scripts - set(SCRIPTS))


def base_algorithm(script: str) -> str | None:
    """DDPG, TD3 or SAC for this project's scripts and CleanRL's plain ones; None for any other (a variant)."""
    match = CLEANRL.fullmatch(script)
    if match and not match["variant"]:
        script = f"{match['algorithm']}_continuous.py"
    return ALGORITHMS.get(script)


# One colour per algorithm in every figure: DDPG blue, TD3 orange, SAC green, CleanRL's the same colour as its
# algorithm, dashed. Any other name (a study's variants) takes the next colour of a palette without those three
# and without red, in the order of the names; past its end the palette starts again in another line style.
ALGORITHM_COLOURS = {"DDPG": "tab:blue", "TD3": "tab:orange", "SAC": "tab:green"}
OTHER_COLOURS = ("tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
OTHER_LINESTYLES = ("-", "-.", ":")


def styles(scripts) -> dict[str, dict]:
    """The colour and line style of each script or name: one mapping, made once from all the runs and given to
    every figure, so that a colour means one thing (see `ALGORITHM_COLOURS`)."""
    mapping, others = {}, 0
    for script in ordered(scripts):
        algorithm, cleanrl = base_algorithm(script), CLEANRL.fullmatch(script) is not None
        if algorithm in ALGORITHM_COLOURS:
            mapping[script] = {"color": ALGORITHM_COLOURS[algorithm], "linestyle": "--" if cleanrl else "-"}
            continue
        wrap, index = divmod(others, len(OTHER_COLOURS))
        linestyle = "--" if cleanrl else OTHER_LINESTYLES[wrap % len(OTHER_LINESTYLES)]
        mapping[script] = {"color": OTHER_COLOURS[index], "linestyle": linestyle}
        others += 1
    return mapping


def seeds_text(counts) -> str:
    low, high = min(counts), max(counts)
    return f"{low} seed{'s' if high > 1 else ''}" if low == high else f"{low}-{high} seeds"


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------
def groups_of(env_runs: list[RunLog]) -> dict[str, list[RunLog]]:
    return {script: [run for run in env_runs if run.script == script] for script in ordered(r.script for r in env_runs)}


def by_task(runs: list[RunLog]):
    """(env, script, its runs) for every env (sorted) and script (in the figures' order): the tables' rows."""
    for env_id in sorted({run.env_id for run in runs}):
        for script, group in groups_of([run for run in runs if run.env_id == env_id]).items():
            yield env_id, script, group


# Sized for a paper: 3.5 inches a panel (a column's width), no text under 8 points at that size; PDF fonts kept as
# text (Type 42); no dates in the files, and SVG ids derived from the drawing, not random: a figure drawn again
# from the same runs changes as little as its drawing does.
PANEL_INCHES = (3.5, 2.6)
PAPER_STYLE = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "figure.titlesize": 9, "lines.linewidth": 1.5, "lines.markersize": 3,
    "pdf.fonttype": 42, "svg.hashsalt": "benchmarks/plot.py", "savefig.dpi": 200,
}  # fmt: skip
CAPTION_POINTS = 8
SEED_LINE = {"linewidth": 0.6, "alpha": 0.45}  # each seed's line, under the mean's
METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "ModDate": None}, "svg": {"Date": None}}


def save_figure(figure, path: Path, formats=("png",)) -> list[Path]:
    """Save the figure as `path` + `.png`, `.pdf`, `.svg` (`formats`), then close it."""
    paths = [path.parent / f"{path.name}.{fmt}" for fmt in formats]
    for fmt, target in zip(formats, paths, strict=True):
        figure.savefig(target, metadata=METADATA[fmt])
    plt.close(figure)
    return paths


def draw_grid_curves(axes, env_runs: list[RunLog], curve: str, x: str, style: dict) -> None:
    """Per script, a thin line per seed of the runs' `curve` on a grid (up to the shortest run's last point),
    and over them the mean over the seeds where every seed has a point, labelled."""
    end = min(run.curve_data(curve, x)[0].max() for run in env_runs)
    grid = np.linspace(0, end, GRID_POINTS + 1)[1:]
    for script, runs in groups_of(env_runs).items():
        curves = []
        for run in runs:
            points, values, window = run.curve_data(curve, x)
            curves.append(recent_mean_curve(points, values, grid, window))
            axes.plot(grid, curves[-1], **style[script], **SEED_LINE)
        curves = np.array(curves)
        started = ~np.isnan(curves).any(axis=0)  # where every seed has a point
        axes.plot(grid[started], curves[:, started].mean(axis=0), label=algorithm_name(script), **style[script])


def evaluation_points(runs: list[RunLog], x: str) -> tuple[np.ndarray, np.ndarray]:
    """The evaluations that every run made (by step): their x, [runs, evaluations] (the step, or the hours at
    which each run logged it), and their returns, [runs, evaluations]."""
    steps = reduce(np.intersect1d, [run.eval_steps for run in runs])
    returns, points = [], []
    for run in runs:
        index = {step: i for i, step in enumerate(run.eval_steps)}  # the last one at a step, if repeated
        returns.append([run.eval_returns[index[step]] for step in steps])
        points.append([run.eval_hours[index[step]] for step in steps] if x == "time" else steps)
    return np.array(points, dtype=float), np.array(returns, dtype=float)


def draw_evaluations(axes, env_runs: list[RunLog], x: str, style: dict) -> None:
    """Per script, a thin line per seed through its evaluations, and over them the mean over the seeds at the
    evaluations that all made (x: the mean over the seeds of their hours, on a time axis), a marker at each."""
    every_step = []
    for script, runs in groups_of(env_runs).items():
        points, returns = evaluation_points(runs, x)
        for seed_points, seed_returns in zip(points, returns, strict=True):
            axes.plot(seed_points, seed_returns, **style[script], **SEED_LINE)
        axes.plot(points.mean(axis=0), returns.mean(axis=0), marker="o", label=algorithm_name(script), **style[script])
        every_step.append(evaluation_points(runs, "steps")[0][0])
    if x == "steps" and every_step:
        evaluation_ticks(axes, np.unique(np.concatenate(every_step)))


def nice_multiple(value: float) -> int:
    """The least of 1, 2, 5, 10, 20, 50, ... that is at least `value`."""
    power = 10 ** max(0, math.floor(math.log10(max(value, 1))))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def evaluation_ticks(axes, steps: np.ndarray, most: int = 6) -> None:
    """x ticks at evaluation points: multiples of the interval between evaluations, at most about `most`."""
    if len(steps) < 2:
        return
    interval = float(np.min(np.diff(steps)))
    axes.xaxis.set_major_locator(MultipleLocator(interval * nice_multiple(steps.max() / interval / most)))


def steps_text(steps: float, _=None) -> str:
    """Environment steps as a tick label: 0, 25k, 1M, 1.5M."""
    if not steps:
        return "0"
    return f"{steps / 1e6:g}M" if abs(steps) >= 1e6 else f"{steps / 1000:g}k"


def draw_panel(axes, env_runs: list[RunLog], curve: str, x: str, style: dict) -> None:
    """One env's curves, one per script."""
    if curve == "evaluation":
        draw_evaluations(axes, env_runs, x, style)
    else:
        draw_grid_curves(axes, env_runs, curve, x, style)
    if curve == "q_values":
        axes.set_ylabel(f"mean Q(s, a) of a batch\n(losses/qf1_values, last {RECENT_Q_VALUES} logged)")
    else:
        axes.set_ylabel(f"return (last {RECENT_EPISODES} episodes)" if curve == "training" else "evaluation return")
    axes.set_xlabel("environment steps" if x == "steps" else "wall-clock hours")
    if x == "steps":
        axes.xaxis.set_major_formatter(steps_text)
    axes.grid(alpha=0.3)


def caption(curve: str, x: str, seeds: str, below: str = "evaluation") -> str:
    """What the lines of a figure are (`below`: the returns under a Q-value figure)."""
    returns = "the evaluations' returns" if below == "evaluation" else "the training returns (last 10 episodes)"
    line = {
        "training": f"Thick lines: mean over {seeds} of a run's return at that point, the mean of its last "
        f"{RECENT_EPISODES} training episodes (with exploration noise).",
        "evaluation": f"Markers: the evaluations (each the mean return of its episodes, without exploration "
        f"noise), mean over {seeds}.",
        "q_values": f"Thick lines: mean over {seeds}: above, the critic's mean Q(s, a) of a batch (the mean of its "
        f"last {RECENT_Q_VALUES} logged values); below, {returns}.",
    }[curve]
    text = line + " Thin lines: each seed."
    if x == "time":
        text += " x: wall-clock hours since the run's first logged event (pauses of a resumed run included)"
        text += "; the mean over seeds for each evaluation." if curve != "training" else "."
    return text


def legend_columns(figure, labels: list[str]) -> int:
    """As many legend columns (at most 4) as the figure's width holds for labels this long, so none is cut off."""
    column_inches = 0.6 + 0.06 * max(len(label) for label in labels)  # the line sample, then 8-point text
    return max(1, min(len(labels), 4, int(figure.get_figwidth() / column_inches)))


def figure_caption(figure, text: str) -> None:
    """The caption below the panels, wrapped to the figure's width."""
    width = int(figure.get_figwidth() * 15)  # characters of 8-point text per line, with a margin
    figure.supxlabel(textwrap.fill(text, width), fontsize=CAPTION_POINTS, color="0.25")


def finish_figure(figure, panels: list[tuple], curve: str, x: str, path: Path, below="evaluation", formats=("png",)):
    """One legend above every panel, named by algorithm, and the caption below them; saved to `path` in each
    format. `panels`: (axes, env runs, title) of each panel. A panel's title lists each algorithm's seeds when
    they differ between panels."""
    counts = {}
    for _, env_runs, _ in panels:
        for script, runs in groups_of(env_runs).items():
            counts.setdefault(script, set()).add(len(runs))
    uneven = any(len(n) > 1 for n in counts.values())
    for axes, env_runs, panel_title in panels:
        if uneven:
            seeds = ", ".join(f"{algorithm_name(script)} {len(r)}" for script, r in groups_of(env_runs).items())
            panel_title += f"\nseeds: {seeds}"
        axes.set_title(panel_title)
    handles = {}
    for axes, _, _ in panels:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    seeds = {algorithm_name(script): seeds_text(n) for script, n in counts.items()}
    labels = [f"{label} ({seeds[label]})" for label in handles]
    figure.legend(
        list(handles.values()), labels, loc="outside upper center", ncols=legend_columns(figure, labels), frameon=False
    )
    every = {n for ns in counts.values() for n in ns}
    seeds_in_caption = seeds_text(every) if len(every) == 1 else "the seeds (n in the legend)"
    figure_caption(figure, caption(curve, x, seeds_in_caption, below))
    return save_figure(figure, path, formats)


@plt.rc_context(PAPER_STYLE)
def write_figures(runs: list[RunLog], output_dir: Path, curve: str, x="steps", formats=("png",), style=None) -> None:
    """`<env>` for each env and `all_envs` (at most 3 panels a row), in each format; `_evaluation` before the
    suffix for the evaluation curves. `style`: `styles` of all the runs, the same for every figure."""
    suffix = "" if curve == "training" else "_evaluation"
    style = style or styles(run.script for run in runs)
    env_ids = sorted({run.env_id for run in runs})
    width, height = PANEL_INCHES
    for env_id in env_ids:
        env_runs = [run for run in runs if run.env_id == env_id]
        figure, axes = plt.subplots(figsize=(width, height + 1.2), layout="constrained")
        draw_panel(axes, env_runs, curve, x, style)
        finish_figure(figure, [(axes, env_runs, env_id)], curve, x, output_dir / f"{env_id}{suffix}", formats=formats)
    write_all_envs_figure(runs, output_dir / f"all_envs{suffix}", curve, x, formats, style)


@plt.rc_context(PAPER_STYLE)
def write_all_envs_figure(runs: list[RunLog], path: Path, curve: str, x="steps", formats=("png",), style=None):
    """A panel per env (at most 3 a row) of these runs' `curve`, saved to `path` in each format."""
    style = style or styles(run.script for run in runs)
    env_ids = sorted({run.env_id for run in runs})
    width, height = PANEL_INCHES
    columns = min(3, len(env_ids))
    rows = -(-len(env_ids) // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(width * columns, height * rows + 1.0), squeeze=False, layout="constrained"
    )
    panels = []
    for axes, env_id in zip(grid.flat, env_ids, strict=False):
        env_runs = [run for run in runs if run.env_id == env_id]
        draw_panel(axes, env_runs, curve, x, style)
        panels.append((axes, env_runs, env_id))
    for axes in grid.flat[len(env_ids) :]:
        axes.axis("off")
    return finish_figure(figure, panels, curve, x, path, formats=formats)


@plt.rc_context(PAPER_STYLE)
def write_q_value_figure(runs: list[RunLog], env_id: str, output_dir: Path, x="steps", formats=("png",), style=None):
    """`q_values_<env>`: what each algorithm's critic predicts (`losses/qf1_values`) above what its policy returns.

    A critic that overestimates shows Q-values far above those of another algorithm at the same return.
    SAC's critics learn soft Q-values: the return plus the discounted entropy bonuses of the later steps.
    """
    env_runs = [run for run in runs if run.env_id == env_id and len(run.q_values)]
    style = style or styles(run.script for run in runs)
    width, height = PANEL_INCHES
    figure, (q_axes, return_axes) = plt.subplots(
        2, 1, figsize=(width, 2 * height + 1.4), sharex=True, layout="constrained"
    )
    draw_panel(q_axes, env_runs, "q_values", x, style)
    q_axes.set_xlabel("")
    curve = "evaluation" if all(len(run.eval_returns) for run in env_runs) else "training"
    draw_panel(return_axes, env_runs, curve, x, style)
    if any(run.script.startswith("sac") for run in env_runs):
        q_axes.text(0.01, 0.98, "SAC: soft Q, with the entropy bonus", transform=q_axes.transAxes, va="top")
    path = output_dir / f"q_values_{env_id}"
    title = f"{env_id}: the critics' values\nand the policies' returns"
    panels = [(q_axes, env_runs, title), (return_axes, env_runs, "")]
    return finish_figure(figure, panels, "q_values", x, path, below=curve, formats=formats)


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------
TABLE_HEADER = (
    "| env | script | n (runs) | final return: mean ± sample std (ddof=1) | standard error of the mean "
    "(sample std / √n) | final return is | wall time per run |"
)


def number(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.1f}"


def table(runs: list[RunLog], final: str = "auto") -> str:
    """Per env and script: n, the final return's mean ± sample standard deviation, its standard error, the wall time."""
    lines = [TABLE_HEADER, "|---|---|---|---|---|---|---|"]
    for env_id, script, group in by_task(runs):
        finals, measures = zip(*(final_return(run, final) for run in group), strict=True)
        wall = np.mean([run.wall_time_seconds for run in group]) / 60
        lines.append(
            f"| {env_id} | `{script}` | {len(group)} | {np.mean(finals):.1f} ± {number(sample_std(finals))} "
            f"| {number(standard_error(finals))} | {', '.join(sorted(set(measures)))} | {wall:.1f} min |"
        )
    return "\n".join(lines) + "\n"


def published_number(value: float, decimals: int) -> str:
    """A published number as its source prints it: with its decimals, or as many as it has (859.065)."""
    text = f"{value:.{decimals}f}"
    return text if float(text) == value else repr(value)


def published_cell(source: Published, script: str, env_id: str) -> str:
    """The source's number for this script's algorithm on this task, in whatever version of the env it used
    (named beside the number), or "not in it"."""
    task = env_id.rsplit("-v", 1)[0]
    for published_env, (mean, std) in source.returns.get(base_algorithm(script), {}).items():
        if published_env.rsplit("-v", 1)[0] == task:
            spread = f" ± {published_number(std, source.decimals)}" if std is not None else ""
            return f"{published_number(mean, source.decimals)}{spread} ({published_env})"
    return "not in it"


def spread(values) -> str:
    """Mean ± std (ddof=0) of our seeds' values, as the published tables give theirs."""
    return f"{np.mean(values):.1f} ± {number(population_std(values))}"


def each_seed(runs: list[RunLog], values) -> str:
    """Each seed's value, in the order of the seeds: "1: 3847.7, 2: 4611.5"."""
    pairs = sorted(zip((run.seed for run in runs), values, strict=True))
    return ", ".join(f"{seed}: {value:.1f}" for seed, value in pairs)


def budget(runs: list[RunLog]) -> str:
    """The runs' last logged step: "100,000", or "90,000-100,000" where they differ."""
    low, high = min(run.last_step for run in runs), max(run.last_step for run in runs)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def best_mean_evaluation(runs: list[RunLog]) -> tuple[float, np.ndarray] | None:
    """The TD3 paper's metric, of our runs: at the evaluation where the mean over the seeds is highest (of those
    that every run made), its step and each run's return; None without evaluations."""
    if not all(len(run.eval_returns) for run in runs):
        return None
    steps, returns = evaluation_points(runs, "steps")
    if returns.shape[1] == 0:
        return None
    best = int(np.argmax(returns.mean(axis=0)))
    return float(steps[0][best]), returns[:, best]


def max_average_table(runs: list[RunLog], source: Published, column: str) -> str:
    """Per task and algorithm (ours and CleanRL's scripts), the max average return of our runs (the TD3 paper's
    metric, which Tianshou's benchmark takes too) beside the source's number, under the heading `column`."""
    lines = [
        (
            "| env | script | n (runs) | steps | ours: max over evaluations of the mean over seeds, ± std "
            f"(ddof=0) there | at step | each seed there | {column} |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for env_id, script, group in by_task(runs):
        if base_algorithm(script) is None:
            continue
        best = best_mean_evaluation(group)
        ours = "no evaluations | n/a | n/a"
        if best is not None:
            step, values = best
            ours = f"{spread(values)} | {step:,.0f} | {each_seed(group, values)}"
        lines.append(
            f"| {env_id} | `{script}` | {len(group)} | {budget(group)} | {ours} "
            f"| {published_cell(source, script, env_id)} |"
        )
    return "\n".join(lines) + "\n"


def td3_paper_table(runs: list[RunLog]) -> str:
    """Per task and algorithm, the TD3 paper's metric of our runs beside its Table 1."""
    return max_average_table(runs, TD3_PAPER, "TD3 paper, Table 1 (10 seeds, 1M steps)")


def tianshou_table(runs: list[RunLog]) -> str:
    """Per task and algorithm, the same metric of our runs beside Tianshou's benchmark, which measures it too."""
    return max_average_table(runs, TIANSHOU_BENCHMARK, "Tianshou's benchmark (10 seeds, 1M steps)")


def cleanrl_table(runs: list[RunLog]) -> str:
    """Per task and algorithm (ours and CleanRL's scripts), CleanRL's metric of our runs beside CleanRL's docs."""
    lines = [
        (
            f"| env | script | n (runs) | steps | ours: last {CLEANRL_EPISODES} training episodes, mean ± std "
            "(ddof=0) | each seed | CleanRL's docs (3 seeds, 1M steps) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for env_id, script, group in by_task(runs):
        if base_algorithm(script) is None:
            continue
        values = [training_return(run, CLEANRL_EPISODES) for run in group]
        lines.append(
            f"| {env_id} | `{script}` | {len(group)} | {budget(group)} | {spread(values)} "
            f"| {each_seed(group, values)} | {published_cell(CLEANRL_DOCS, script, env_id)} |"
        )
    return "\n".join(lines) + "\n"


def evaluation_note(runs: list[RunLog]) -> str:
    """How often our runs evaluated, beside the 5,000 steps of the TD3 paper and Tianshou."""
    frequencies = sorted({int(np.min(np.diff(run.eval_steps))) for run in runs if len(run.eval_steps) > 1})
    ours = f"every {' or '.join(f'{f:,}' for f in frequencies)} steps" if frequencies else "(none)"
    return (
        f"our evaluations are {ours}, theirs every 5,000 steps (a maximum over more evaluations of a noisy mean "
        "is higher by chance)"
    )


def published_text(runs: list[RunLog], heading: str = "## Beside the published results") -> str:
    """The section of `results.md` that sets ours beside the published results, each under its own metric."""
    if not any(base_algorithm(run.script) for run in runs):
        return ""
    return (
        f"{heading}\n\n"
        "Each source's numbers under its own metric, and ours computed the same way: the mean over our n runs "
        "± their standard deviation with ddof=0, as the TD3 paper and CleanRL compute theirs and Tianshou's tools "
        "do (with n = 3 it is 0.82 times the sample std), and each seed's value. Each published number names the "
        "environment version it was measured on; theirs are at 1M steps, ours at the budget in the steps column.\n\n"
        f"**The TD3 paper's metric.** {TD3_PAPER.source}: {TD3_PAPER.metric}, gym MuJoCo v1. "
        f"Ours: {TD3_PAPER.ours}; {evaluation_note(runs)}. Its DDPG is the authors' configuration "
        "of 2018 (400-300 networks, Adam 1e-3, batches of 100), not ours (256-256, Adam 3e-4, batches of 256).\n\n"
        f"{td3_paper_table(runs)}\n"
        f"**Tianshou's metric, the TD3 paper's.** {TIANSHOU_BENCHMARK.source}: {TIANSHOU_BENCHMARK.metric}; "
        "gym 0.17.3 with mujoco-py (MuJoCo 2.0), v3 but v2 for InvertedPendulum. Ours: the same numbers as "
        f"above, {TIANSHOU_BENCHMARK.ours}; {evaluation_note(runs)}.\n\n"
        f"{tianshou_table(runs)}\n"
        f"**CleanRL's metric.** {CLEANRL_DOCS.source}: {CLEANRL_DOCS.metric}; gym MuJoCo v4 (its SAC table says v2 "
        "for the locomotion tasks, but its numbers are those of runs on v4). Ours: "
        f"{CLEANRL_DOCS.ours}.\n\n"
        f"{cleanrl_table(runs)}"
    )


def runs_table(runs: list[RunLog], final: str = "auto") -> str:
    """The section of each run in `results.md`. Its best training return answers what a mean cannot on a
    goal-reward task: did any episode reach the goal?"""
    lines = [
        "## Each run\n",
        "| env | script | seed | final return | training episodes | best training return |",
        "|---|---|---|---|---|---|",
    ]
    for env_id, script, group in by_task(runs):
        for run in sorted(group, key=lambda run: run.seed):
            lines.append(
                f"| {env_id} | `{script}` | {run.seed} | {final_return(run, final)[0]:.1f} "
                f"| {len(run.episode_returns)} | {run.episode_returns.max():.1f} |"
            )
    return "\n".join(lines) + "\n"


def time_limit(env_id: str) -> int | None:
    """The env's registered time limit (`max_episode_steps`), if gymnasium knows it."""
    import gymnasium as gym

    try:
        return gym.spec(env_id).max_episode_steps
    except gym.error.Error:
        return None


def discounted_state_value(returns, lengths, gamma: float, limit: int | None) -> float:
    """What a critic should predict, on average over the states of these episodes, if every step of an episode
    paid its mean reward r = return / length: a state k steps before the end is worth r (1 - γ^k) / (1 - γ); an
    episode cut at the time limit `limit` was bootstrapped (it did not end), so each of its states is worth
    r / (1 - γ). Each episode weighs as many states as it has. The logs hold returns and lengths, not rewards:
    this is an estimate, exact when the rewards of an episode are equal."""
    values = []
    for episode_return, length in zip(returns, lengths.astype(int), strict=True):
        reward = episode_return / length
        steps_to_end = np.arange(1, length + 1)
        tail = 1.0 if limit is not None and length >= limit else 1 - gamma**steps_to_end
        values.append(np.broadcast_to(reward * tail / (1 - gamma), steps_to_end.shape))
    return float(np.concatenate(values).mean())


def q_value_table(runs: list[RunLog], env_ids: list[str]) -> str:
    """Per env and script: the critic's mean Q-value over the last 10% of each run's steps, beside the
    discounted return of the states of its training episodes of those steps (`discounted_state_value`)."""
    header = (
        "| env | script | n (runs) | critic's mean Q(s, a) (`losses/qf1_values`) | discounted return of the "
        "training episodes' states (estimate) | Q / estimate, per run |"
    )
    lines = [header, "|---|---|---|---|---|---|"]
    for env_id in env_ids:
        limit = time_limit(env_id)
        for script, group in groups_of([r for r in runs if r.env_id == env_id and len(r.q_values)]).items():
            if any(len(run.episode_lengths) == 0 for run in group):
                continue  # runs without episode lengths (not logged) have no estimate
            q_means, estimates = [], []
            for run in group:
                start = (1 - Q_TABLE_LAST) * max(run.q_steps.max(), run.episode_steps.max())
                q_means.append(run.q_values[run.q_steps >= start].mean())
                recent = run.episode_steps >= start
                estimates.append(
                    discounted_state_value(run.episode_returns[recent], run.episode_lengths[recent], run.gamma, limit)
                )
            ratios = ", ".join(f"{q / v:.2f}" for q, v in zip(q_means, estimates, strict=True))
            lines.append(
                f"| {env_id} | `{script}` | {len(group)} | {np.mean(q_means):.1f} ± {number(sample_std(q_means))} "
                f"| {np.mean(estimates):.1f} ± {number(sample_std(estimates))} | {ratios} |"
            )
    return "\n".join(lines) + "\n"


def q_value_text(runs: list[RunLog], env_ids: list[str]) -> str:
    """The Q-value section of `results.md`."""
    return (
        "## Q-values\n\n"
        f"Over the last {Q_TABLE_LAST:.0%} of each run's steps: the mean of the critic's logged mean Q(s, a) of a "
        "batch, and what it should be for states like the policy's own, estimated from the training episodes "
        "finished in those steps: the discounted return from each of their states to the episode's end, averaged "
        "over the states, if every step paid its episode's mean reward (the logs hold each episode's return and "
        "length, not its rewards); an episode cut at the time limit does not end, so each of its states is worth "
        "its mean reward / (1 - gamma). Mean ± sample std (ddof=1) over the n runs; the ratio per run, in the "
        "order of the seeds. The critic's batches come from the whole replay buffer, older and worse states and "
        "actions included: once the policy has improved, a correct critic's mean is, if anything, below the "
        "estimate, so a ratio well above 1 is overestimation, and one below 1 need not be underestimation. SAC's critics learn soft Q-values, which add the "
        "discounted entropy bonuses.\n\n" + q_value_table(runs, env_ids)
    )


@dataclass
class Aggregate:
    """Each algorithm's runs on the aggregated tasks as normalised scores, and what rliable estimates of them."""

    tasks: list[str]
    scores: dict[str, np.ndarray]  # script -> [runs, tasks]: normalised scores (`score`, the last 5 evaluations)
    last: dict[str, np.ndarray]  # script -> [runs, tasks]: normalised last evaluations (if all its runs evaluated)
    score_is: dict[str, str]  # script -> what its score is
    estimates: dict[str, dict[str, Estimate]]  # script -> "IQM", "mean", and of `last` "last IQM", "last mean"
    improvement: dict[tuple[str, str], Estimate]  # (X, Y) -> P(X > Y), for X before Y in the tables' order
    taus: np.ndarray
    profiles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # script -> (profile, low, high) at each tau
    left_out: list[str]  # envs and runs not in it, each with the reason
    samples: int  # bootstrap resamples


def aggregated_runs(runs: list[RunLog]) -> tuple[list[str], dict[str, dict[str, list[RunLog]]], list[str]]:
    """The tasks of the aggregate (those of `AGGREGATE_TASKS` that every script ran), each script's runs on each
    (as many on every task: rliable takes a [runs, tasks] matrix, so its lowest seeds, as many as its fewest
    on a task), and what is left out, with why."""
    envs, scripts = {run.env_id for run in runs}, ordered(run.script for run in runs)
    ran = {script: {run.env_id for run in runs if run.script == script} for script in scripts}
    tasks = [env for env in AGGREGATE_TASKS if all(env in done for done in ran.values())]
    left_out = []
    for env in sorted(envs - set(AGGREGATE_TASKS)):
        left_out.append(f"{env} ({NOT_AGGREGATED.get(env, 'no published 1M-step reference to normalise by')})")
    for env in sorted(envs & set(AGGREGATE_TASKS) - set(tasks)):
        missing = [algorithm_name(script) for script, done in ran.items() if env not in done]
        left_out.append(f"{env} (no run of {', '.join(missing)})")
    groups = {}
    for script in scripts if tasks else []:
        by_env = {env: sorted((r for r in runs if (r.script, r.env_id) == (script, env)), key=lambda r: r.seed)
                  for env in tasks}  # fmt: skip
        n = min(len(env_runs) for env_runs in by_env.values())
        for env, env_runs in by_env.items():
            if len(env_runs) > n:
                seeds = ", ".join(str(run.seed) for run in env_runs[n:])
                left_out.append(f"{algorithm_name(script)}'s {env} seeds {seeds} (it has {n} runs on another task)")
        groups[script] = {env: env_runs[:n] for env, env_runs in by_env.items()}
    return tasks, groups, left_out


def score_matrices(groups: dict, tasks: list[str], final: str = "auto") -> tuple[dict, dict, dict]:
    """Per script, the normalised scores of its runs, [runs, tasks]; the same of their last evaluations (scripts
    whose runs all evaluated, with `final="auto"`); and what the score is."""
    scores, last, score_is = {}, {}, {}
    for script, by_env in groups.items():
        scored = {env: [score(run, final) for run in by_env[env]] for env in tasks}  # (value, what it is)
        scores[script] = np.stack([normalised(env, [value for value, _ in scored[env]]) for env in tasks], axis=1)
        score_is[script] = ", ".join(sorted({what for env in tasks for _, what in scored[env]}))
        if final == "auto" and all(len(run.eval_returns) for env in tasks for run in by_env[env]):
            last[script] = np.stack([normalised(env, [run.evaluation for run in by_env[env]]) for env in tasks], 1)
    return scores, last, score_is


def iqm_and_mean(scores: np.ndarray) -> np.ndarray:
    """rliable's IQM of all runs of all tasks and its mean (of the tasks' means) of a [runs, tasks] matrix."""
    return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores)])


def aggregate(runs: list[RunLog], final: str = "auto", samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Aggregate:
    """The aggregate of `aggregated_runs`, computed by rliable: per script the IQM and the mean of the scores and
    of the last evaluations, the probability of improvement of each pair of scripts, and the performance
    profiles, each with its 95% stratified bootstrap interval (`samples` resamples; `seed` seeds them)."""
    tasks, groups, left_out = aggregated_runs(runs)
    scores, last, score_is = score_matrices(groups, tasks, final)
    estimates = {script: {} for script in scores}
    for prefix, matrices in (("", scores), ("last ", last)):
        for script, (iqm_estimate, mean_estimate) in interval_estimates(matrices, iqm_and_mean, samples, seed).items():
            estimates[script] |= {f"{prefix}IQM": iqm_estimate, f"{prefix}mean": mean_estimate}
    pairs = {(x, y): [scores[x], scores[y]] for i, x in enumerate(scores) for y in list(scores)[i + 1 :]}
    improvement = {
        pair: Estimate(float(metrics.probability_of_improvement(*pairs[pair])), estimate.low, estimate.high)
        for pair, (estimate,) in interval_estimates(pairs, probability_of_improvement, samples, seed).items()
    }
    every = np.concatenate([matrix.reshape(-1) for matrix in scores.values()]) if scores else np.zeros(1)
    taus = np.linspace(min(0.0, every.min()), max(1.0, every.max()) * 1.02, PROFILE_POINTS)
    with numpy_seed(seed):
        profiles, bands = rly.create_performance_profile(
            scores, taus, custom_profile_func=score_distribution, reps=samples
        ) if scores else ({}, {})  # fmt: skip
    profiles = {script: (profiles[script], *bands[script]) for script in scores}
    return Aggregate(tasks, scores, last, score_is, estimates, improvement, taus, profiles, left_out, samples)


def runs_per_task(result: Aggregate) -> str:
    """n, the runs per task of each algorithm: "3", or "2-3" where the algorithms differ."""
    counts = sorted({len(matrix) for matrix in result.scores.values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def aggregate_table(result: Aggregate) -> str:
    """Per algorithm: its tasks, runs, what its score is, the IQM and the mean of the normalised scores with
    their intervals, and the same of the last evaluation alone."""
    lines = [
        (
            "| algorithm | tasks | runs | score | IQM [95% CI] | mean [95% CI] | last evaluation: IQM [95% CI] "
            "| last evaluation: mean [95% CI] |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for script, matrix in result.scores.items():
        estimate = result.estimates[script]
        last = [str(estimate[key]) if key in estimate else "n/a" for key in ("last IQM", "last mean")]
        lines.append(
            f"| {algorithm_name(script)} | {matrix.shape[1]} | {matrix.size} | {result.score_is[script]} "
            f"| {estimate['IQM']} | {estimate['mean']} | {' | '.join(last)} |"
        )
    return "\n".join(lines) + "\n"


def improvement_table(result: Aggregate) -> str:
    """P(X > Y) of each pair of algorithms, with its interval."""
    lines = ["| X | Y | P(X > Y) [95% CI] |", "|---|---|---|"]
    for (x, y), estimate in result.improvement.items():
        lines.append(f"| {algorithm_name(x)} | {algorithm_name(y)} | {estimate} |")
    return "\n".join(lines) + "\n"


def aggregate_text(result: Aggregate, fmt: str = "png") -> str:
    """The across-task section of `results.md`: what is aggregated and how, the tables, the normalisation."""
    left_out = f"Not in the aggregate: {'; '.join(result.left_out)}.\n" if result.left_out else ""
    if not result.scores:
        return "## Across tasks\n\nNo task to aggregate. " + left_out
    n, samples = runs_per_task(result), f"{result.samples:,}"
    lines = [
        "## Across tasks",
        "",
        (
            f"Over {', '.join(result.tasks)}: the tasks whose reference is a published 1M-step result, the TD3 "
            f"paper's. Each run is scored by the mean of its last {SCORE_EVALUATIONS} evaluations (one evaluation "
            "is a noisy measure of a policy that changes between evaluations), or, without evaluations or with "
            f"`--final training`, by the mean of its last {RECENT_EPISODES} training episodes (the score column "
            "says which), normalised per task as (score - random) / (reference - random); beside it, the last "
            "evaluation alone. Computed with rliable "
            f"{package_version('rliable')} (Agarwal et al. 2021): the interquartile mean (IQM, the mean of the "
            "middle 50% of all runs on all tasks) and the mean, each with a 95% stratified bootstrap percentile "
            f"interval ({samples} resamples of the runs within each task). [`aggregate.{fmt}`](aggregate.{fmt}) "
            "draws them beside the performance profile: the fraction of runs whose score exceeds tau, with its "
            "band from the same bootstrap."
        ),
        "",
        (
            f"With n = {n} runs per task these intervals under-cover: the bootstrap's variance of a task's mean "
            "is (n - 1)/n of the usual estimate s²/n (two thirds at n = 3), and 3 runs have only 10 distinct "
            "resamples. Read them as narrower than 95% intervals, and the differences they seem to show as weaker."
        ),
        "",
        aggregate_table(result),
        (
            "Probability of improvement (rliable's `probability_of_improvement`): P(X > Y) is the probability that "
            "a run of X scores above a run of Y on the same task (ties count half), averaged over the tasks; 0.5 is "
            "no difference. Its interval: the same bootstrap, each algorithm's runs resampled within each task."
        ),
        "",
        improvement_table(result),
        "Normalised score = (score - random) / (reference - random), per task:",
        "",
        "| env | random (uniformly random policy, measured) | reference (TD3 paper, 1M steps) |",
        "|---|---|---|",
        *(f"| `{env}` | {RANDOM_RETURNS[env]:.2f} | {REFERENCE_RETURNS[env]:.2f} |" for env in result.tasks),
        "",
        f"- random: {RANDOM_SOURCE};",
        f"- reference: {REFERENCE_SOURCE}. A score of 1 is the published 1M-step result, whatever the runs' budget.",
    ]
    return "\n".join(lines) + "\n" + (f"\n{left_out}" if left_out else "")


def package_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def draw_estimates(axes, result: Aggregate, key: str, style: dict) -> None:
    """Each algorithm's estimate `key` ("IQM" or "mean") as a point with its interval, one row each."""
    scripts = list(result.scores)
    for row, script in enumerate(scripts):
        estimate = result.estimates[script][key]
        error = [[estimate.value - estimate.low], [estimate.high - estimate.value]]
        axes.errorbar(estimate.value, row, xerr=error, fmt="o", capsize=3, color=style[script]["color"])
    axes.set_yticks(range(len(scripts)), [algorithm_name(s) for s in scripts])
    axes.set_ylim(len(scripts) - 0.5, -0.5)
    axes.set_xlabel(f"{key} of the normalised scores")
    axes.set_title(key)
    axes.grid(alpha=0.3)


@plt.rc_context(PAPER_STYLE)
def write_aggregate_figure(result: Aggregate, output_dir: Path, formats=("png",), style=None) -> list[Path]:
    """`aggregate`: each algorithm's IQM and mean with their intervals, and the performance profiles with their
    bands, all as rliable estimated them."""
    style = style or styles(result.scores)
    width, height = PANEL_INCHES
    figure, (iqm_axes, mean_axes, profile_axes) = plt.subplots(
        1, 3, figsize=(2 * width, height + 1.3), width_ratios=(1, 1, 1.6), layout="constrained"
    )
    draw_estimates(iqm_axes, result, "IQM", style)
    draw_estimates(mean_axes, result, "mean", style)
    mean_axes.tick_params(labelleft=False)
    for script, matrix in result.scores.items():
        profile, band_low, band_high = result.profiles[script]
        label = f"{algorithm_name(script)} ({matrix.shape[1]} tasks, {matrix.size} runs)"
        profile_axes.plot(result.taus, profile, label=label, **style[script])
        profile_axes.fill_between(result.taus, band_low, band_high, color=style[script]["color"], alpha=0.2, lw=0)
    profile_axes.set_xlabel("normalised score tau")
    profile_axes.set_ylabel("fraction of runs with score > tau")
    profile_axes.set_title("Performance profile")
    profile_axes.grid(alpha=0.3)
    labels = profile_axes.get_legend_handles_labels()[1]
    figure.legend(loc="outside upper center", ncols=legend_columns(figure, labels), frameon=False)
    figure_caption(
        figure,
        f"Over {', '.join(result.tasks)}. A run's score: the mean of its last {SCORE_EVALUATIONS} evaluations, "
        "normalised as (score - random policy) / (reference - random policy), the reference the TD3 paper's "
        "1M-step return. IQM and mean over all runs of all tasks; intervals and bands: 95% stratified bootstrap "
        f"({result.samples:,} resamples of the runs within each task, percentile; rliable), which with "
        f"n = {runs_per_task(result)} runs per task under-cover.",
    )
    return save_figure(figure, output_dir / "aggregate", formats)


def machines(runs: list[RunLog]) -> str:
    """Which machines and versions made the runs: per machine, how many of the runs ran on it, wholly or in
    part (a run resumed on another machine counts under each, so the counts can add up to more runs)."""
    unrecorded = ["not recorded (runs made outside `benchmarks/run.py`, or before it recorded it)"]
    counts = Counter(ran_on for run in runs for ran_on in set(run.ran_on or unrecorded))
    lines = [f"- {count} run{'s' if count > 1 else ''}: {ran_on}" for ran_on, count in sorted(counts.items())]
    shared = sum(len(set(run.ran_on)) > 1 for run in runs)
    header = f"Ran on ({len(runs)} runs"
    header += f"; {shared} of them on more than one machine, counted under each):" if shared else "):"
    return header + "\n\n" + "\n".join(lines) + "\n"


def code_versions(runs: list[RunLog]) -> str:
    """Which commits made the runs (`result.json`), with how many runs each and whether the tree was dirty."""

    def which(run: RunLog) -> str:
        if not run.code.get("commit"):
            return "not recorded (runs made before `benchmarks/run.py` recorded it, or outside it)"
        return f"commit {run.code['commit'][:12]}" + (", with uncommitted changes" if run.code.get("dirty") else "")

    counts = Counter(which(run) for run in runs)
    lines = [f"- {count} run{'s' if count > 1 else ''}: {code}" for code, count in sorted(counts.items())]
    return "Code (each run's in `runs.csv`):\n\n" + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# The docs' results sections
# ---------------------------------------------------------------------------------------
# A results section of a Markdown file: what it shows is named in its opening marker, "all" (figures,
# every row and the aggregate), "status", or a script's name (the figure and that script's rows).
SECTION = re.compile(r"(<!-- results: (\S+) -->\n).*?(<!-- end of results -->)", flags=re.DOTALL)


def status_line(runs: list[RunLog], runs_dirs, env_ids=(), scripts=()) -> str:
    """How many of the runs started in these directories (of these envs and scripts, if given) have finished."""
    runs_dirs = [runs_dirs] if isinstance(runs_dirs, (str, Path)) else runs_dirs

    def chosen(path: Path) -> bool:  # a run directory `{env}__{script or variant}__{seed}` of the runner
        match = RUNNER_RUN_NAME.fullmatch(path.name)
        if match is None:
            return not env_ids and not scripts
        env_ok = not env_ids or match["env_id"] in env_ids
        return env_ok and (not scripts or any(same_name(match["name"], s) for s in scripts))

    started = sum(1 for root in runs_dirs for path in Path(root).iterdir() if path.is_dir() and chosen(path))
    started = max(len(runs), started)
    if len(runs) == started:
        return f"All {started} runs have finished."
    return (
        f"{len(runs)} of the {started} runs have finished; the others continue when their "
        "`benchmarks/run.py` command runs again, and this section is redrawn from the finished ones."
    )


def results_section(
    kind: str,
    figures: str,
    output_dir: Path,
    table_text: str,
    status: str,
    aggregate: str = "",
    fmt: str = "png",
    published: dict | None = None,
) -> str:
    """The body of a results section of this kind, its figure paths relative to the file (`figures`). A
    script's section: its own figure (`script_figure`) if there is one, its rows, and `published[kind]`."""
    if kind == "status":
        return status + "\n"
    header, rule, *rows = table_text.strip().splitlines()
    chosen = rows if kind == "all" else [row for row in rows if f"`{kind}`" in row]
    own = script_figure(kind) if kind != "all" else None
    if own and (output_dir / f"{own}.{fmt}").exists():
        text = f"![{algorithm_name(kind)} on every task: each seed and their mean]({figures}/{own}.{fmt})\n\n"
    else:
        text = f"![Training returns: mean over seeds, a thin line per seed]({figures}/all_envs.{fmt})\n\n"
    if kind == "all" and (output_dir / f"all_envs_evaluation.{fmt}").exists():
        text += f"Their evaluation returns:\n\n![Evaluation returns]({figures}/all_envs_evaluation.{fmt})\n\n"
    text += "\n".join([header, rule, *chosen]) + "\n\n"
    if kind == "all" and aggregate and (output_dir / f"aggregate.{fmt}").exists():
        text += (
            "Across tasks, by rliable: the interquartile mean and the mean of the normalised scores of all runs on "
            f"those of {', '.join(AGGREGATE_TASKS)} that every algorithm ran, each run scored by the mean of its "
            f"last {SCORE_EVALUATIONS} evaluations, with 95% stratified bootstrap intervals, which under-cover with 3 "
            "runs per task, and the performance profiles (the normalisation, the method and the probabilities of "
            "improvement: "
            f"[`results.md`]({figures}/results.md)):\n\n{aggregate}\n"
            f"![IQM of the normalised scores and performance profiles]({figures}/aggregate.{fmt})\n\n"
        )
    if (published or {}).get(kind):
        text += published[kind] + "\n"
    return text + f"{status}\n"


def script_figure(script: str) -> str:
    """The name of the figure of one script's runs alone: `td3_continuous` for `td3_continuous.py`."""
    return script.removesuffix(".py")


def update_docs(
    paths: list[Path],
    output_dir: Path,
    table_text: str,
    status: str,
    aggregate: str = "",
    fmt: str = "png",
    published: dict | None = None,
) -> None:
    """Rewrite the results sections of these files; the rows they quote are those of `results.md`, verbatim.
    `published`: per script, the published results beside its runs, for its section."""
    for path in paths:
        figures = os.path.relpath(output_dir, path.parent)
        text = path.read_text()
        for match in reversed(list(SECTION.finditer(text))):
            body = results_section(match.group(2), figures, output_dir, table_text, status, aggregate, fmt, published)
            text = text[: match.start()] + match.group(1) + body + match.group(3) + text[match.end() :]
        path.write_text(text)


def fail(message: str) -> None:
    print(f"plot.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = tyro.cli(Args, args=argv, description=__doc__.split("\n\n")[0])
    if args.measure_random_returns:
        import gymnasium as gym

        for env_id in args.measure_random_returns:
            try:
                print(f'    "{env_id}": {random_policy_return(env_id):.2f},', flush=True)
            except gym.error.Error as error:  # an unknown id, a missing dependency
                fail(f"--measure-random-returns {env_id}: {error}")
        return
    if not args.format:
        fail("--format needs at least one of png, pdf, svg")
    if args.bootstrap_samples < 100:
        fail(f"--bootstrap-samples {args.bootstrap_samples}: intervals need at least 100 resamples (rliable: 50,000)")
    for root in args.runs_dir:
        if not root.is_dir():
            fail(f"--runs-dir {root} is not a directory")
    for doc in args.update_docs:  # checked before anything is written
        if not doc.is_file():
            fail(f"--update-docs {doc}: no such file")
    if args.output_dir is not None and args.output_dir.exists() and not args.output_dir.is_dir():
        fail(f"--output-dir {args.output_dir} is a file, not a directory")
    if args.first_steps is not None and args.first_steps <= 0:
        fail(f"--first-steps {args.first_steps}: a number of steps must be positive")
    runs = read_runs(args.runs_dir, args.env_ids, args.scripts, args.min_steps, first_steps=args.first_steps)
    if not runs:
        where = " ".join(str(root) for root in args.runs_dir)
        fail(
            f"nothing to plot: no finished run with training episodes in {where}"
            + " (of --env-ids/--scripts)" * bool(args.env_ids or args.scripts)
        )
    for env_id in args.q_values:
        if not any(run.env_id == env_id and len(run.q_values) for run in runs):
            fail(f"--q-values {env_id}: no finished run of it logged losses/qf1_values")
    output_dir = args.output_dir or args.runs_dir[0]
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot write to --output-dir {output_dir} ({error.strerror}): give a directory you may write to")
    write_outputs(runs, output_dir, args, shlex.join(["python", display(Path(__file__)), *argv]))
    print(f"{len(runs)} runs: figures, runs.csv and results.md written to {output_dir}")


def write_outputs(runs: list[RunLog], output_dir: Path, args: Args, command: str) -> None:
    """The figures, `runs.csv`, `results.md` and the docs' results sections, from these runs."""
    style, fmt = styles(run.script for run in runs), args.format[0]  # one colour per name, in every figure
    write_figures(runs, output_dir, "training", args.x, args.format, style)
    if all(len(run.eval_returns) for run in runs):
        write_figures(runs, output_dir, "evaluation", args.x, args.format, style)
    write_runs_csv(runs, output_dir / "runs.csv")
    table_text = table(runs, args.final)
    result = aggregate(runs, args.final, args.bootstrap_samples, args.seed)
    if result.scores:
        write_aggregate_figure(result, output_dir, args.format, style)
    published = published_text(runs)
    # Each of this project's scripts, when there are others beside it: a figure of its runs alone, and the
    # published results beside them, for its page's results section.
    own_scripts = [script for script in ordered({run.script for run in runs}) if script in ALGORITHMS]
    per_script = {}
    for script in own_scripts if len({run.script for run in runs}) > 1 else []:
        script_runs = [run for run in runs if run.script == script]
        curve = "evaluation" if all(len(run.eval_returns) for run in script_runs) else "training"
        write_all_envs_figure(script_runs, output_dir / script_figure(script), curve, args.x, args.format, style)
        per_script[script] = published_text(
            script_runs, heading=f"**{algorithm_name(script)} beside the published results.**"
        )
    (output_dir / "results.md").write_text(
        f"Per task, the final returns of the n runs of each algorithm:\n\n{table_text}\n"
        + f"{aggregate_text(result, fmt)}\n"
        + (f"{published}\n" if published else "")
        + (f"{q_value_text(runs, args.q_values)}\n" if args.q_values else "")
        + f"{runs_table(runs, args.final)}\n"
        + f"Made by: `{command}`\n\n{machines(runs)}\n{code_versions(runs)}"
    )
    status = status_line(runs, args.runs_dir, args.env_ids, args.scripts)
    aggregate_rows = aggregate_table(result) if result.scores else ""
    update_docs(args.update_docs, output_dir, table_text, status, aggregate_rows, fmt, per_script)
    for env_id in args.q_values:
        write_q_value_figure(runs, env_id, output_dir, args.x, args.format, style)


if __name__ == "__main__":
    main()
