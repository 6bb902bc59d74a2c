"""Plot a benchmark's learning curves and tabulate its final returns, with honest statistics.

    python benchmarks/plot.py --runs-dir runs/benchmark --output-dir runs/benchmark/report

Reads the finished runs of `benchmarks/run.py` (their `result.json` and TensorBoard logs) and writes:
- `<env>.png`: one curve per script, the mean over seeds of each run's recent training return
  (the mean of its last 10 episodes at that step), with a 95% bootstrap confidence band over seeds,
  on a common grid of environment steps;
- `all_envs.png`: the same for every env, side by side; `<env>_evaluation.png` and
  `all_envs_evaluation.png` the same for the evaluations' returns (`--eval-frequency`), if every
  run has them;
- `results.md`: per env and script, the final return (mean +- std over seeds, where a run's final
  return is its last evaluation's mean when it has evaluations, else the mean of its last 10
  training episodes; the table says which), the interquartile mean (IQM) over seeds with a 95%
  bootstrap interval, and the wall time per run; below it, the machines and versions the runs ran on;
- with `--q-values ENV ...`, `q_values_<env>.png` for those envs: the critics' mean Q-value as logged
  (`losses/qf1_values`) of each script, above its evaluation return, to show overestimation.
"""

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import tyro
from common import SCRIPTS, scalar_events

RECENT_EPISODES = 10  # a run's return at a step: the mean of its last 10 episodes
RECENT_Q_VALUES = 10  # a run's Q-value at a step: the mean of its last 10 logged values (1,000 updates)
GRID_POINTS = 100
BOOTSTRAP_SAMPLES = 2000


@dataclass
class Args:
    runs_dir: Path = Path("runs/benchmark")
    """the runs directory of `benchmarks/run.py`"""
    output_dir: Path | None = None
    """where the figures and the table go (default: the runs directory)"""
    seed: int = 0
    """seed of the bootstrap"""
    update_docs: list[Path] = field(default_factory=list)
    """Markdown files whose marked results sections to rewrite from the new table (see `update_docs`)"""
    q_values: list[str] = field(default_factory=list)
    """envs of which to draw `q_values_<env>.png`: each script's logged Q-values above its evaluation returns"""


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


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle 50%, after dropping floor(n / 4) values at each end.

    The same as `scipy.stats.trim_mean(values, 0.25)`, the estimator of Agarwal et al. (2021, rliable).
    """
    values = np.sort(np.asarray(values, dtype=float))
    cut = len(values) // 4
    return float(values[cut : len(values) - cut].mean())


def bootstrap_interval(values, statistic, rng: np.random.Generator, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `values` resampled with replacement."""
    values = np.asarray(values, dtype=float)
    samples = rng.choice(values, size=(BOOTSTRAP_SAMPLES, len(values)), replace=True)
    estimates = np.array([statistic(sample) for sample in samples])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def mean_band(curves: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (rows) at each grid point, and its 95% bootstrap band over runs."""
    resampled = curves[rng.integers(0, len(curves), size=(BOOTSTRAP_SAMPLES, len(curves)))]  # [B, runs, grid]
    means = resampled.mean(axis=1)
    return curves.mean(axis=0), np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


def min_max_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (rows) at each grid point, and the band from the lowest run to the highest."""
    return curves.mean(axis=0), curves.min(axis=0), curves.max(axis=0)


# ---------------------------------------------------------------------------------------
# Reading the runs
# ---------------------------------------------------------------------------------------
@dataclass
class RunLog:
    script: str
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

    @property
    def evaluation(self) -> float | None:
        """The last evaluation's mean return, if the run evaluated."""
        return float(self.eval_returns[-1]) if len(self.eval_returns) else None

    def curve_data(self, curve: str) -> tuple[np.ndarray, np.ndarray, int]:
        """Steps, values and averaging window of its "training", "evaluation" or "q_values" curve."""
        if curve == "training":
            return self.episode_steps, self.episode_returns, RECENT_EPISODES
        if curve == "q_values":
            return self.q_steps, self.q_values, RECENT_Q_VALUES
        return self.eval_steps, self.eval_returns, 1  # each evaluation already averages episodes


def read_runs(runs_dir: Path) -> list[RunLog]:
    """Every finished run of the runs directory."""
    runs = []
    for result_path in sorted(runs_dir.glob("*/result.json")):
        result = json.loads(result_path.read_text())
        events = scalar_events(result_path.parent / result["tensorboard_dir"])
        episodes = events.get("charts/episodic_return", [])
        evaluations = events.get("eval/episodic_return", [])
        q_values = events.get("losses/qf1_values", [])
        runs.append(
            RunLog(
                script=result["script"],
                env_id=result["env_id"],
                seed=result["seed"],
                wall_time_seconds=result["wall_time_seconds"],
                episode_steps=np.array([e.step for e in episodes], dtype=float),
                episode_returns=np.array([e.value for e in episodes], dtype=float),
                eval_steps=np.array([e.step for e in evaluations], dtype=float),
                eval_returns=np.array([e.value for e in evaluations], dtype=float),
                ran_on=result.get("ran_on", []),
                q_steps=np.array([e.step for e in q_values], dtype=float),
                q_values=np.array([e.value for e in q_values], dtype=float),
            )
        )
    return runs


def final_return(run: RunLog) -> tuple[float, str]:
    """The run's final return, and what it is."""
    if run.evaluation is not None:
        return run.evaluation, "last evaluation"
    return float(run.episode_returns[-RECENT_EPISODES:].mean()), f"last {RECENT_EPISODES} training episodes"


# ---------------------------------------------------------------------------------------
# Figures and table
# ---------------------------------------------------------------------------------------
def draw_curves(axes, env_runs: list[RunLog], curve: str, band, label=lambda script: "") -> None:
    """One line per script, the mean over seeds of the runs' `curve`, and the band that `band(curves)` gives.

    On a grid up to the shortest run's last point; `label(script)` is added to the script's legend entry.
    """
    end = min(run.curve_data(curve)[0].max() for run in env_runs)
    grid = np.linspace(0, end, GRID_POINTS + 1)[1:]
    for script in sorted({run.script for run in env_runs}):
        runs = [run for run in env_runs if run.script == script]
        curves = []
        for run in runs:
            steps, values, window = run.curve_data(curve)
            curves.append(recent_mean_curve(steps, values, grid, window))
        curves = np.array(curves)
        started = ~np.isnan(curves).any(axis=0)  # where every seed has a point
        mean, low, high = band(curves[:, started])
        color = f"C{SCRIPTS.index(script)}" if script in SCRIPTS else None  # one color per script everywhere
        seeds = f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"
        axes.plot(grid[started], mean, color=color, label=f"{Path(script).stem} ({seeds}{label(script)})")
        axes.fill_between(grid[started], low, high, color=color, alpha=0.2)
    axes.set_xlabel("environment steps")
    axes.xaxis.set_major_formatter(lambda steps, _: f"{steps / 1000:g}k" if steps else "0")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")


def draw_env(axes, env_runs: list[RunLog], rng: np.random.Generator, curve: str = "training") -> None:
    """One env's return curves, one per script, with 95% bootstrap bands over seeds."""
    draw_curves(axes, env_runs, curve, lambda curves: mean_band(curves, rng))
    axes.set_title(env_runs[0].env_id)
    axes.set_ylabel(f"return (last {RECENT_EPISODES} episodes)" if curve == "training" else "evaluation return")


def soft_q_note(script: str) -> str:
    """SAC's critics learn soft Q-values: the return plus the discounted entropy bonuses of the later steps."""
    return "; soft Q: with the entropy bonus" if script.startswith("sac") else ""


def write_q_value_figure(runs: list[RunLog], env_id: str, output_dir: Path) -> Path:
    """`q_values_<env>.png`: what each script's critic predicts (`losses/qf1_values`) above what its policy returns.

    A critic that overestimates shows Q-values far above those of another algorithm at the same return.
    With few seeds the bands are the range of the runs (min to max), not a confidence interval.
    """
    env_runs = [run for run in runs if run.env_id == env_id and len(run.q_values)]
    figure, (q_axes, return_axes) = plt.subplots(2, 1, figsize=(6.4, 7), sharex=True)
    draw_curves(q_axes, env_runs, "q_values", min_max_band, soft_q_note)
    q_axes.set_ylabel(f"mean Q(s, a) of a batch\n(losses/qf1_values, last {RECENT_Q_VALUES} logged)")
    q_axes.set_xlabel("")
    curve = "evaluation" if all(len(run.eval_returns) for run in env_runs) else "training"
    draw_curves(return_axes, env_runs, curve, min_max_band)
    return_axes.set_ylabel(
        "evaluation return" if curve == "evaluation" else f"return (last {RECENT_EPISODES} episodes)"
    )
    figure.suptitle(
        f"{env_id}: the critics' values and the policies' returns\nlines: mean over seeds; bands: min to max"
    )
    figure.tight_layout()
    path = output_dir / f"q_values_{env_id}.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def table(runs: list[RunLog], rng: np.random.Generator) -> str:
    lines = [
        "| env | script | seeds | final return, mean ± std | IQM [95% bootstrap CI] | measured on | wall time per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for env_id in sorted({run.env_id for run in runs}):
        for script in sorted({run.script for run in runs if run.env_id == env_id}):
            group = [run for run in runs if run.env_id == env_id and run.script == script]
            finals, measures = zip(*(final_return(run) for run in group), strict=True)
            low, high = bootstrap_interval(finals, iqm, rng)
            wall = np.mean([run.wall_time_seconds for run in group]) / 60
            lines.append(
                f"| {env_id} | `{script}` | {len(group)} | {np.mean(finals):.1f} ± {np.std(finals):.1f} "
                f"| {iqm(finals):.1f} [{low:.1f}, {high:.1f}] | {', '.join(sorted(set(measures)))} | {wall:.1f} min |"
            )
    return "\n".join(lines) + "\n"


def machines(runs: list[RunLog]) -> str:
    """Which machines and versions made the runs, with how many runs each."""
    unrecorded = ["not recorded (made before `benchmarks/run.py` recorded it)"]
    counts = Counter(ran_on for run in runs for ran_on in run.ran_on or unrecorded)
    lines = [f"- {count} run{'s' if count > 1 else ''}: {ran_on}" for ran_on, count in sorted(counts.items())]
    return "Ran on:\n\n" + "\n".join(lines) + "\n"


def write_figures(runs: list[RunLog], output_dir: Path, rng: np.random.Generator, curve: str) -> None:
    """`<env>.png` for each env and `all_envs.png`; `_evaluation` before `.png` for the evaluation curves."""
    suffix = "" if curve == "training" else "_evaluation"
    env_ids = sorted({run.env_id for run in runs})
    for env_id in env_ids:
        figure, axes = plt.subplots(figsize=(6, 4))
        draw_env(axes, [run for run in runs if run.env_id == env_id], rng, curve)
        figure.tight_layout()
        figure.savefig(output_dir / f"{env_id}{suffix}.png", dpi=120)
        plt.close(figure)
    columns = min(3, len(env_ids))
    rows = -(-len(env_ids) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for axes, env_id in zip(grid.flat, env_ids, strict=False):
        draw_env(axes, [run for run in runs if run.env_id == env_id], rng, curve)
    for axes in grid.flat[len(env_ids) :]:
        axes.axis("off")
    figure.tight_layout()
    figure.savefig(output_dir / f"all_envs{suffix}.png", dpi=120)
    plt.close(figure)


# A results section of a Markdown file: what it shows is named in its opening marker, "all" (figures
# and every row), "status", or a script's name (the figure and that script's rows).
SECTION = re.compile(r"(<!-- results: (\S+) -->\n).*?(<!-- end of results -->)", flags=re.DOTALL)


def status_line(runs: list[RunLog], runs_dir: Path) -> str:
    started = sum(1 for path in runs_dir.iterdir() if path.is_dir())
    if len(runs) == started:
        return f"All {started} runs have finished."
    return (
        f"{len(runs)} of the {started} runs have finished; the others continue when their "
        "`benchmarks/run.py` command runs again, and this section is redrawn from the finished ones."
    )


def results_section(kind: str, figures: str, output_dir: Path, table_text: str, status: str) -> str:
    """The body of a results section of this kind, its figure paths relative to the file (`figures`)."""
    if kind == "status":
        return status + "\n"
    header, rule, *rows = table_text.strip().splitlines()
    chosen = rows if kind == "all" else [row for row in rows if f"`{kind}`" in row]
    text = f"![Training returns of the scripts, mean over seeds, 95% bootstrap band]({figures}/all_envs.png)\n\n"
    if kind == "all" and (output_dir / "all_envs_evaluation.png").exists():
        text += f"Their evaluation returns:\n\n![Evaluation returns]({figures}/all_envs_evaluation.png)\n\n"
    return text + "\n".join([header, rule, *chosen]) + f"\n\n{status}\n"


def update_docs(paths: list[Path], output_dir: Path, table_text: str, status: str) -> None:
    """Rewrite the results sections of these files; the rows they quote are those of `results.md`, verbatim."""
    for path in paths:
        figures = os.path.relpath(output_dir, path.parent)
        text = path.read_text()
        for match in reversed(list(SECTION.finditer(text))):
            body = results_section(match.group(2), figures, output_dir, table_text, status)
            text = text[: match.start()] + match.group(1) + body + match.group(3) + text[match.end() :]
        path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(Args, args=argv, description=__doc__.split("\n\n")[0])
    runs = [run for run in read_runs(args.runs_dir) if len(run.episode_returns)]
    if not runs:
        raise SystemExit(f"plot.py: error: no finished runs with episodes in {args.runs_dir}")
    for env_id in args.q_values:
        if not any(run.env_id == env_id and len(run.q_values) for run in runs):
            raise SystemExit(f"plot.py: error: --q-values {env_id}: no finished run of it logged losses/qf1_values")
    output_dir = args.output_dir or args.runs_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    write_figures(runs, output_dir, rng, "training")
    if all(len(run.eval_returns) for run in runs):
        write_figures(runs, output_dir, rng, "evaluation")
    table_text = table(runs, rng)
    (output_dir / "results.md").write_text(table_text + "\n" + machines(runs))
    update_docs(args.update_docs, output_dir, table_text, status_line(runs, args.runs_dir))
    for env_id in args.q_values:
        write_q_value_figure(runs, env_id, output_dir)
    print(f"{len(runs)} runs: figures and results.md written to {output_dir}")


if __name__ == "__main__":
    main()
