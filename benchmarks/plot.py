"""Plot learning curves and tabulate final returns of TensorBoard runs, with statistics that say what they are.

    python benchmarks/plot.py --runs-dir runs/benchmark --output-dir runs/benchmark/report

Reads every run under the `--runs-dir` directories: the runs of `benchmarks/run.py` (a `result.json`
next to the script's TensorBoard directory), plain `runs/` directories of the scripts (run directories
named `{env}__{exp_name}__{seed}__{unixtime}`, with the scripts' `args.json`) and CleanRL's runs (the
same names and tags, no `args.json`). Runs are grouped by env and by script or experiment name, shown
as DDPG, TD3 and SAC for this project's scripts and "CleanRL TD3" and so on for CleanRL's
`*_continuous_action` scripts. A run whose log or `result.json` is damaged, or that has not finished, is
left out with one line on stderr saying which and why. It writes (`.png`, or `--format pdf|svg`):
- `<env>.png`: per algorithm, the mean over seeds of each run's recent training return (the mean of its
  last 10 episodes at that point), with a band from the lowest seed to the highest, against environment
  steps or (`--x time`) wall-clock hours; `all_envs.png` the same for every env, side by side;
  `<env>_evaluation.png` and `all_envs_evaluation.png` the evaluations' returns (`--eval-frequency`),
  drawn at the evaluation points, if every run has them. Each figure has one legend and a caption
  saying what the lines and bands are;
- `results.md`: per env and algorithm, the final return of its n runs as mean ± sample standard
  deviation (ddof=1) and the standard error of the mean (a run's final return is its last evaluation's
  mean when it has evaluations, else the mean of its last 10 training episodes; the table says which),
  and the wall time per run. Then the aggregate across tasks of Agarwal et al. (2021, "Deep RL at the
  edge of the statistical precipice", the estimators of `rliable`, written out here in NumPy): scores
  normalised per task as (return - random policy) / (reference - random policy) with the constants of
  `RANDOM_RETURNS` and `REFERENCE_RETURNS`, the interquartile mean (IQM) of all runs on all tasks with
  a 95% stratified bootstrap interval; below it the machines and versions the runs ran on;
- `aggregate.png`: that IQM with its interval, and the performance profile (the fraction of runs whose
  normalised score exceeds tau, against tau) with a 95% stratified bootstrap band;
- with `--q-values ENV ...`, `q_values_<env>.png` for those envs: the critics' mean Q-value as logged
  (`losses/qf1_values`) of each algorithm, above its evaluation return, to show overestimation; and in
  `results.md` a table of those envs: per algorithm, the critic's mean Q-value over the last 10% of the
  steps beside what a critic should predict for the states of the training episodes of the same steps
  (`discounted_state_value`), and their ratio.
"""

import json
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

RECENT_EPISODES = 10  # a run's return at a step: the mean of its last 10 episodes
RECENT_Q_VALUES = 10  # a run's Q-value at a step: the mean of its last 10 logged values (1,000 updates)
Q_TABLE_LAST = 0.1  # the Q-value table compares a run's last 10% of steps
GRID_POINTS = 100
BOOTSTRAP_SAMPLES = 2000
PROFILE_POINTS = 201  # values of tau in the performance profile

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
    format: Literal["png", "pdf", "svg"] = "png"
    """the figures' file format"""
    final: Literal["auto", "training"] = "auto"
    """a run's final return: `auto` its last evaluation if it has evaluations, else the mean of its last 10
    training episodes; `training` always the latter (to compare with runs that do not evaluate, as CleanRL's)"""
    min_steps: int = 0
    """leave out runs whose logs end before this step (runs still going, e.g. CleanRL's, which say nothing
    of their budget; this project's scripts are checked against the `total_timesteps` of their `args.json`)"""
    seed: int = 0
    """seed of the bootstrap"""
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


def standard_error(values) -> float:
    """The standard error of the mean: the sample standard deviation over the square root of n."""
    return sample_std(values) / np.sqrt(len(values))


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle 50%, after dropping floor(n / 4) values at each end.

    The same as `scipy.stats.trim_mean(values, 0.25)`, the estimator of Agarwal et al. (2021, rliable).
    """
    return float(iqm_rows(np.asarray(values, dtype=float)[None])[0])


def iqm_rows(matrix: np.ndarray) -> np.ndarray:
    """The interquartile mean of each row of a [rows, values] matrix."""
    matrix = np.sort(matrix, axis=-1)
    cut = matrix.shape[-1] // 4
    return matrix[:, cut : matrix.shape[-1] - cut].mean(axis=-1)


def stratified_bootstrap(scores_by_task: list, rng: np.random.Generator, samples: int = BOOTSTRAP_SAMPLES):
    """`samples` resamples of all the runs, [samples, runs]: each task's runs drawn with replacement within
    that task, as many as it has (the stratified bootstrap of Agarwal et al. 2021)."""
    columns = []
    for scores in scores_by_task:
        scores = np.asarray(scores, dtype=float)
        columns.append(scores[rng.integers(0, len(scores), size=(samples, len(scores)))])
    return np.concatenate(columns, axis=1)


def percentile_interval(estimates: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap estimates (over their first axis)."""
    tail = 100 * (1 - confidence) / 2
    return np.percentile(estimates, tail, axis=0), np.percentile(estimates, 100 - tail, axis=0)


def stratified_iqm_interval(scores_by_task: list, rng: np.random.Generator) -> tuple[float, float, float]:
    """The IQM of all runs of all tasks, and its 95% stratified bootstrap percentile interval."""
    low, high = percentile_interval(iqm_rows(stratified_bootstrap(scores_by_task, rng)))
    return iqm(np.concatenate([np.asarray(scores, dtype=float) for scores in scores_by_task])), float(low), float(high)


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """For each tau, the fraction of runs whose score exceeds tau; scores [..., runs] give [..., taus]."""
    scores = np.asarray(scores, dtype=float)
    return (scores[..., None, :] > np.asarray(taus)[:, None]).mean(axis=-1)


def profile_band(scores_by_task: list, taus: np.ndarray, rng: np.random.Generator):
    """The performance profile of all runs, and its 95% stratified bootstrap band."""
    runs = np.concatenate([np.asarray(scores, dtype=float) for scores in scores_by_task])
    low, high = percentile_interval(performance_profile(stratified_bootstrap(scores_by_task, rng), taus))
    return performance_profile(runs, taus), low, high


def bootstrap_interval(values, statistic, rng: np.random.Generator, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `values` resampled with replacement (one stratum).

    Not used per task: with 3 seeds it is [min, max] of the seeds (an all-minimum resample has probability
    1/27 > 2.5%). The aggregate uses `stratified_bootstrap` over many runs and tasks instead.
    """
    samples = stratified_bootstrap([values], rng)
    low, high = percentile_interval(np.array([statistic(sample) for sample in samples]), confidence)
    return float(low), float(high)


def mean_band(curves: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (rows) at each grid point, and its 95% percentile-bootstrap band over runs.

    Not drawn: with a few seeds it is the min-max band under another name; the figures use `min_max_band`.
    """
    low, high = percentile_interval(stratified_bootstrap([curves], rng).mean(axis=1))
    return curves.mean(axis=0), low, high


def min_max_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (rows) at each grid point, and the band from the lowest run to the highest."""
    return curves.mean(axis=0), curves.min(axis=0), curves.max(axis=0)


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


def read_run(run: Found, min_steps: int) -> RunLog:
    """The run's log; ValueError says why it cannot be used."""
    events = checked_scalar_events(run.log_dir, complete=run.finished)
    if not events.get("charts/episodic_return"):
        raise ValueError("no training episodes logged (charts/episodic_return)")
    last_step = max(event.step for tag_events in events.values() for event in tag_events)
    if run.total_timesteps is not None and last_step < run.total_timesteps and not run.finished:
        raise ValueError(
            f"unfinished: logged up to step {last_step:,} of its --total-timesteps {run.total_timesteps:,}"
        )
    if last_step < min_steps:
        raise ValueError(f"logged up to step {last_step:,}, under --min-steps {min_steps:,}")
    start = min(event.wall_time for tag_events in events.values() for event in tag_events)
    end = max(event.wall_time for tag_events in events.values() for event in tag_events)

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
    args_path = run.log_dir / "args.json"
    gamma = float(json.loads(args_path.read_text()).get("gamma", 0.99)) if args_path.exists() else 0.99
    return RunLog(
        run.script, run.env_id, run.seed, run.wall_time_seconds if run.wall_time_seconds is not None else end - start,
        episode_steps, episode_returns, eval_steps, eval_returns, run.ran_on, q_steps, q_values,
        episode_hours, eval_hours, q_hours, source=display(run.log_dir), episode_lengths=episode_lengths, gamma=gamma,
    )  # fmt: skip


def same_name(a: str, b: str) -> bool:
    return a.removesuffix(".py") == b.removesuffix(".py")


def read_runs(runs_dirs, env_ids=(), scripts=(), min_steps: int = 0, skip=None) -> list[RunLog]:
    """Every usable run under these directories (of these envs and scripts, if given); `skip(path, why)` is
    told of each run left out (by default a line on stderr)."""
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
                runs.append(read_run(run, min_steps))
            except (OSError, ValueError) as error:  # DamagedLogError is a ValueError
                skip(run.log_dir, str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}")
    return runs


def final_return(run: RunLog, final: str = "auto") -> tuple[float, str]:
    """The run's final return, and what it is."""
    if run.evaluation is not None and final == "auto":
        return run.evaluation, "last evaluation"
    return float(run.episode_returns[-RECENT_EPISODES:].mean()), f"last {RECENT_EPISODES} training episodes"


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


def styles(scripts) -> dict[str, dict]:
    """One color per script everywhere (DDPG, TD3, SAC the first three); other programs' runs dashed."""
    others = iter(range(3, 100))
    return {
        script: {
            "color": f"C{SCRIPTS.index(script) if script in SCRIPTS else next(others) % 10}",
            "linestyle": "--" if CLEANRL.fullmatch(script) else "-",
        }
        for script in ordered(scripts)
    }


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


def draw_grid_curves(axes, env_runs: list[RunLog], curve: str, x: str, style: dict) -> None:
    """One line per script, the mean over seeds of the runs' `curve` on a grid (up to the shortest run's last
    point), with a band from the lowest run to the highest."""
    end = min(run.curve_data(curve, x)[0].max() for run in env_runs)
    grid = np.linspace(0, end, GRID_POINTS + 1)[1:]
    for script, runs in groups_of(env_runs).items():
        curves = []
        for run in runs:
            points, values, window = run.curve_data(curve, x)
            curves.append(recent_mean_curve(points, values, grid, window))
        curves = np.array(curves)
        started = ~np.isnan(curves).any(axis=0)  # where every seed has a point
        mean, low, high = min_max_band(curves[:, started])
        axes.plot(grid[started], mean, label=algorithm_name(script), **style[script])
        axes.fill_between(grid[started], low, high, color=style[script]["color"], alpha=0.2, linewidth=0)


def evaluation_points(runs: list[RunLog], x: str) -> tuple[np.ndarray, np.ndarray]:
    """The evaluations that every run made (by step): their x (the step, or the mean over runs of the hours
    at which they were logged) and their returns, [runs, evaluations]."""
    steps = reduce(np.intersect1d, [run.eval_steps for run in runs])
    returns, hours = [], []
    for run in runs:
        index = {step: i for i, step in enumerate(run.eval_steps)}  # the last one at a step, if repeated
        returns.append([run.eval_returns[index[step]] for step in steps])
        if x == "time":
            hours.append([run.eval_hours[index[step]] for step in steps])
    return (np.mean(hours, axis=0) if x == "time" else steps), np.array(returns)


def draw_evaluations(axes, env_runs: list[RunLog], x: str, style: dict) -> None:
    """One line per script through its evaluations, a marker at each: the mean over seeds, and a band from the
    lowest seed to the highest."""
    for script, runs in groups_of(env_runs).items():
        points, returns = evaluation_points(runs, x)
        mean, low, high = min_max_band(returns)
        axes.plot(points, mean, marker="o", markersize=3.5, label=algorithm_name(script), **style[script])
        axes.fill_between(points, low, high, color=style[script]["color"], alpha=0.2, linewidth=0)


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
        axes.xaxis.set_major_formatter(lambda steps, _: f"{steps / 1000:g}k" if steps else "0")
    axes.grid(alpha=0.3)


def caption(curve: str, x: str, seeds: str, below: str = "evaluation") -> str:
    """What the lines and the bands of a figure are (`below`: the returns under a Q-value figure)."""
    returns = "the evaluations' returns" if below == "evaluation" else "the training returns (last 10 episodes)"
    line = {
        "training": f"Lines: mean over {seeds} of a run's return at that point, the mean of its last "
        f"{RECENT_EPISODES} training episodes (with exploration noise).",
        "evaluation": f"Markers: the evaluations (each the mean return of its episodes, without exploration "
        f"noise), mean over {seeds}.",
        "q_values": f"Lines: mean over {seeds}: above, the critic's mean Q(s, a) of a batch (the mean of its last "
        f"{RECENT_Q_VALUES} logged values); below, {returns}.",
    }[curve]
    text = line + " Bands: min to max over seeds."
    if x == "time":
        text += " x: wall-clock hours since the run's first logged event (pauses of a resumed run included)"
        text += "; the mean over seeds for each evaluation." if curve != "training" else "."
    return text


def legend_columns(figure, labels: list[str]) -> int:
    """As many legend columns (at most 4) as the figure's width holds for labels this long, so none is cut off."""
    column_inches = 0.6 + 0.075 * max(len(label) for label in labels)  # the line sample, then about 10-pt text
    return max(1, min(len(labels), 4, int(figure.get_figwidth() / column_inches)))


def finish_figure(figure, panels: list[tuple], curve: str, x: str, path: Path, below: str = "evaluation") -> Path:
    """One legend above every panel, named by algorithm, and the caption below them; saved to `path`.

    `panels`: (axes, env runs, title) of each panel. A panel's title lists each algorithm's seeds when they
    differ between panels.
    """
    counts = {}
    for _, env_runs, _ in panels:
        for script, runs in groups_of(env_runs).items():
            counts.setdefault(script, set()).add(len(runs))
    uneven = any(len(n) > 1 for n in counts.values())
    for axes, env_runs, panel_title in panels:
        if uneven:
            seeds = ", ".join(f"{algorithm_name(script)} {len(r)}" for script, r in groups_of(env_runs).items())
            panel_title += f"\nseeds: {seeds}"
        axes.set_title(panel_title, fontsize="medium")
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
    width = int(figure.get_figwidth() * 15)
    figure.supxlabel(textwrap.fill(caption(curve, x, seeds_in_caption, below), width), fontsize="small", color="0.25")
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_figures(runs: list[RunLog], output_dir: Path, curve: str, x: str = "steps", fmt: str = "png") -> None:
    """`<env>.<fmt>` for each env and `all_envs.<fmt>`; `_evaluation` before the suffix for the evaluation curves."""
    suffix = "" if curve == "training" else "_evaluation"
    style = styles(run.script for run in runs)
    env_ids = sorted({run.env_id for run in runs})
    for env_id in env_ids:
        env_runs = [run for run in runs if run.env_id == env_id]
        figure, axes = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
        draw_panel(axes, env_runs, curve, x, style)
        finish_figure(figure, [(axes, env_runs, env_id)], curve, x, output_dir / f"{env_id}{suffix}.{fmt}")
    columns = min(3, len(env_ids))
    rows = -(-len(env_ids) // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(5 * columns, 3.6 * rows + 1.0), squeeze=False, layout="constrained"
    )
    panels = []
    for axes, env_id in zip(grid.flat, env_ids, strict=False):
        env_runs = [run for run in runs if run.env_id == env_id]
        draw_panel(axes, env_runs, curve, x, style)
        panels.append((axes, env_runs, env_id))
    for axes in grid.flat[len(env_ids) :]:
        axes.axis("off")
    finish_figure(figure, panels, curve, x, output_dir / f"all_envs{suffix}.{fmt}")


def write_q_value_figure(runs: list[RunLog], env_id: str, output_dir: Path, x: str = "steps", fmt: str = "png"):
    """`q_values_<env>`: what each algorithm's critic predicts (`losses/qf1_values`) above what its policy returns.

    A critic that overestimates shows Q-values far above those of another algorithm at the same return.
    SAC's critics learn soft Q-values: the return plus the discounted entropy bonuses of the later steps.
    """
    env_runs = [run for run in runs if run.env_id == env_id and len(run.q_values)]
    style = styles(run.script for run in runs)
    figure, (q_axes, return_axes) = plt.subplots(2, 1, figsize=(6.4, 7.6), sharex=True, layout="constrained")
    draw_panel(q_axes, env_runs, "q_values", x, style)
    q_axes.set_xlabel("")
    curve = "evaluation" if all(len(run.eval_returns) for run in env_runs) else "training"
    draw_panel(return_axes, env_runs, curve, x, style)
    if any(run.script.startswith("sac") for run in env_runs):
        q_axes.text(0.01, 0.98, "SAC: soft Q, with the entropy bonus", transform=q_axes.transAxes, va="top",
                    fontsize="small")  # fmt: skip
    path = output_dir / f"q_values_{env_id}.{fmt}"
    title = f"{env_id}: the critics' values and the policies' returns"
    finish_figure(figure, [(q_axes, env_runs, title), (return_axes, env_runs, "")], "q_values", x, path, below=curve)
    return path


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
    """Per algorithm, its normalised final returns by task, their IQM with interval, and its profile."""

    scores: dict[str, dict[str, np.ndarray]]  # script -> env -> normalised final returns of its runs
    iqms: dict[str, tuple[float, float, float]]  # script -> (IQM, low, high)
    taus: np.ndarray
    profiles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # script -> (profile, low, high)
    left_out: list[str]  # the envs left out, each with the reason


def aggregate(runs: list[RunLog], rng: np.random.Generator, final: str = "auto") -> Aggregate:
    """The stratified-bootstrap IQM and performance profile of each script over the tasks that can be compared:
    those with normalisation constants that every script has run (`left_out` says which others there are)."""
    envs = {run.env_id for run in runs}
    scripts = ordered(run.script for run in runs)
    run_by = {script: {run.env_id for run in runs if run.script == script} for script in scripts}
    tasks = sorted(env for env in envs if env in RANDOM_RETURNS and all(env in done for done in run_by.values()))
    unknown = sorted(envs - set(RANDOM_RETURNS))
    left_out = [f"{', '.join(unknown)} (no normalisation constants)"] if unknown else []
    for env in sorted(envs & set(RANDOM_RETURNS) - set(tasks)):
        missing = [algorithm_name(script) for script, done in run_by.items() if env not in done]
        left_out.append(f"{env} (no run of {', '.join(missing)})")
    scores = {script: {} for script in scripts} if tasks else {}
    for script, by_task in scores.items():
        for env in tasks:
            finals = [final_return(run, final)[0] for run in runs if (run.script, run.env_id) == (script, env)]
            by_task[env] = normalised(env, finals)
    every = np.concatenate([s for by_task in scores.values() for s in by_task.values()]) if tasks else np.zeros(1)
    taus = np.linspace(min(0.0, every.min()), max(1.0, every.max()) * 1.02, PROFILE_POINTS)
    iqms = {script: stratified_iqm_interval(list(by_task.values()), rng) for script, by_task in scores.items()}
    profiles = {script: profile_band(list(by_task.values()), taus, rng) for script, by_task in scores.items()}
    return Aggregate(scores, iqms, taus, profiles, left_out)


def aggregate_table(result: Aggregate) -> str:
    lines = [
        "| algorithm | tasks | runs | IQM of the normalised final returns | 95% stratified bootstrap CI |",
        "|---|---|---|---|---|",
    ]
    for script, tasks in result.scores.items():
        value, low, high = result.iqms[script]
        runs = sum(len(s) for s in tasks.values())
        lines.append(f"| {algorithm_name(script)} | {len(tasks)} | {runs} | {value:.3f} | [{low:.3f}, {high:.3f}] |")
    return "\n".join(lines) + "\n"


def aggregate_text(result: Aggregate, fmt: str = "png") -> str:
    """The across-task section of `results.md`: the table, the normalisation and its sources."""
    left_out = f"Not in the aggregate: {'; '.join(result.left_out)}.\n" if result.left_out else ""
    if not result.scores:
        return "## Across tasks\n\nNo task to aggregate. " + left_out
    envs = sorted({env for tasks in result.scores.values() for env in tasks})
    lines = [
        "## Across tasks",
        "",
        f"Per algorithm, the interquartile mean (IQM) of the normalised final returns of all its runs on all "
        f"tasks, with a 95% stratified bootstrap confidence interval ({BOOTSTRAP_SAMPLES} resamples, each "
        "drawing every task's runs with replacement within that task; percentile interval), as in Agarwal et "
        "al. 2021 (rliable). [`aggregate." + fmt + "`](aggregate." + fmt + ") draws it beside the performance "
        "profile: the fraction of runs whose normalised score exceeds tau, with its 95% band from the same "
        "bootstrap.",
        "",
        aggregate_table(result),
        "Normalised score = (final return - random) / (reference - random), per task:",
        "",
        "| env | random (uniformly random policy, measured) | reference (TD3 paper, 1M steps) |",
        "|---|---|---|",
        *(f"| `{env}` | {RANDOM_RETURNS[env]:.2f} | {REFERENCE_RETURNS[env]:.2f} |" for env in envs),
        "",
        f"- random: {RANDOM_SOURCE};",
        f"- reference: {REFERENCE_SOURCE}. A score of 1 is the published 1M-step result, whatever the runs' budget.",
    ]
    return "\n".join(lines) + "\n" + (f"\n{left_out}" if left_out else "")


def write_aggregate_figure(result: Aggregate, output_dir: Path, fmt: str = "png") -> Path:
    """`aggregate.<fmt>`: each algorithm's IQM with its interval, and the performance profiles with their bands."""
    style = styles(result.scores)
    scripts = list(result.scores)
    figure, (iqm_axes, profile_axes) = plt.subplots(
        1, 2, figsize=(10, 4.2), width_ratios=(1, 1.6), layout="constrained"
    )
    for row, script in enumerate(scripts):
        value, low, high = result.iqms[script]
        iqm_axes.errorbar(
            value, row, xerr=[[value - low], [high - value]], fmt="o", capsize=4, color=style[script]["color"]
        )
        profile, band_low, band_high = result.profiles[script]
        runs = sum(len(s) for s in result.scores[script].values())
        label = f"{algorithm_name(script)} ({len(result.scores[script])} tasks, {runs} runs)"
        profile_axes.plot(result.taus, profile, label=label, **style[script])
        profile_axes.fill_between(result.taus, band_low, band_high, color=style[script]["color"], alpha=0.2, lw=0)
    iqm_axes.set_yticks(range(len(scripts)), [algorithm_name(s) for s in scripts])
    iqm_axes.set_ylim(len(scripts) - 0.5, -0.5)
    iqm_axes.set_xlabel("IQM of the normalised final returns")
    iqm_axes.set_title("IQM, 95% stratified bootstrap CI", fontsize="medium")
    profile_axes.set_xlabel("normalised score tau")
    profile_axes.set_ylabel("fraction of runs with score > tau")
    profile_axes.set_title("Performance profile", fontsize="medium")
    for axes in (iqm_axes, profile_axes):
        axes.grid(alpha=0.3)
    labels = figure.axes[1].get_legend_handles_labels()[1]
    figure.legend(loc="outside upper center", ncols=legend_columns(figure, labels), frameon=False)
    text = (
        "Normalised score: (final return - random policy) / (reference - random policy), reference the TD3 "
        "paper's 1M-step return (Pendulum-v1: 0). IQM over all runs of all tasks; interval and bands: 95% "
        f"stratified bootstrap ({BOOTSTRAP_SAMPLES} resamples of the runs within each task), percentile."
    )
    figure.supxlabel(textwrap.fill(text, 150), fontsize="small", color="0.25")
    path = output_dir / f"aggregate.{fmt}"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def machines(runs: list[RunLog]) -> str:
    """Which machines and versions made the runs, with how many runs each."""
    unrecorded = ["not recorded (runs made outside `benchmarks/run.py`, or before it recorded it)"]
    counts = Counter(ran_on for run in runs for ran_on in run.ran_on or unrecorded)
    lines = [f"- {count} run{'s' if count > 1 else ''}: {ran_on}" for ran_on, count in sorted(counts.items())]
    return "Ran on:\n\n" + "\n".join(lines) + "\n"


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
    kind: str, figures: str, output_dir: Path, table_text: str, status: str, aggregate: str = "", fmt: str = "png"
) -> str:
    """The body of a results section of this kind, its figure paths relative to the file (`figures`)."""
    if kind == "status":
        return status + "\n"
    header, rule, *rows = table_text.strip().splitlines()
    chosen = rows if kind == "all" else [row for row in rows if f"`{kind}`" in row]
    text = (
        f"![Training returns: mean over seeds, band from the lowest seed to the highest]({figures}/all_envs.{fmt})\n\n"
    )
    if kind == "all" and (output_dir / f"all_envs_evaluation.{fmt}").exists():
        text += f"Their evaluation returns:\n\n![Evaluation returns]({figures}/all_envs_evaluation.{fmt})\n\n"
    text += "\n".join([header, rule, *chosen]) + "\n\n"
    if kind == "all" and aggregate and (output_dir / f"aggregate.{fmt}").exists():
        text += (
            "Across tasks: the interquartile mean of the normalised final returns of all runs on all tasks, with a "
            "95% stratified bootstrap interval, and the performance profiles (the normalisation and the method: "
            f"[`results.md`]({figures}/results.md)):\n\n{aggregate}\n"
            f"![IQM of the normalised scores and performance profiles]({figures}/aggregate.{fmt})\n\n"
        )
    return text + f"{status}\n"


def update_docs(
    paths: list[Path], output_dir: Path, table_text: str, status: str, aggregate: str = "", fmt: str = "png"
) -> None:
    """Rewrite the results sections of these files; the rows they quote are those of `results.md`, verbatim."""
    for path in paths:
        figures = os.path.relpath(output_dir, path.parent)
        text = path.read_text()
        for match in reversed(list(SECTION.finditer(text))):
            body = results_section(match.group(2), figures, output_dir, table_text, status, aggregate, fmt)
            text = text[: match.start()] + match.group(1) + body + match.group(3) + text[match.end() :]
        path.write_text(text)


def fail(message: str) -> None:
    print(f"plot.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = tyro.cli(Args, args=argv, description=__doc__.split("\n\n")[0])
    if args.measure_random_returns:
        for env_id in args.measure_random_returns:
            print(f'    "{env_id}": {random_policy_return(env_id):.2f},', flush=True)
        return
    for root in args.runs_dir:
        if not root.is_dir():
            fail(f"--runs-dir {root} is not a directory")
    for doc in args.update_docs:  # checked before anything is written
        if not doc.is_file():
            fail(f"--update-docs {doc}: no such file")
    if args.output_dir is not None and args.output_dir.exists() and not args.output_dir.is_dir():
        fail(f"--output-dir {args.output_dir} is a file, not a directory")
    runs = read_runs(args.runs_dir, args.env_ids, args.scripts, args.min_steps)
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
    output_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    write_figures(runs, output_dir, "training", args.x, args.format)
    if all(len(run.eval_returns) for run in runs):
        write_figures(runs, output_dir, "evaluation", args.x, args.format)
    table_text = table(runs, args.final)
    result = aggregate(runs, rng, args.final)
    if result.scores:
        write_aggregate_figure(result, output_dir, args.format)
    command = shlex.join(["python", display(Path(__file__)), *argv])
    (output_dir / "results.md").write_text(
        f"Per task, the final returns of the n runs of each algorithm:\n\n{table_text}\n"
        f"{aggregate_text(result, args.format)}\n"
        + (f"{q_value_text(runs, args.q_values)}\n" if args.q_values else "")
        + f"{runs_table(runs, args.final)}\n"
        + f"Made by: `{command}`\n\n{machines(runs)}"
    )
    agg = aggregate_table(result) if result.scores else ""
    update_docs(
        args.update_docs,
        output_dir,
        table_text,
        status_line(runs, args.runs_dir, args.env_ids, args.scripts),
        agg,
        args.format,
    )
    for env_id in args.q_values:
        write_q_value_figure(runs, env_id, output_dir, args.x, args.format)
    print(f"{len(runs)} runs: figures and results.md written to {output_dir}")


if __name__ == "__main__":
    main()
